//! The tickets use-cases. The domain decides and returns the event payload; a use-case
//! wraps it in an [`Envelope`] and hands both to the store in one call.

use std::sync::Arc;

use boxoffice_common::{Clock, TicketId, UserId, new_id};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::store::{Decision, Modified};

use crate::domain::{Ticket, TicketDraft, TicketError};
use crate::store::{ListQuery, TicketStore};

/// Name of this service in event envelopes.
pub const SOURCE: &str = "tickets";

/// Why a use-case did not happen.
#[derive(Debug, thiserror::Error)]
pub enum TicketsError {
    #[error("ticket not found")]
    NotFound,
    #[error(transparent)]
    Rule(#[from] TicketError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Cheap to clone; shared by every request.
#[derive(Debug, Clone)]
pub struct TicketsService {
    store: Arc<dyn TicketStore>,
    clock: Arc<dyn Clock>,
}

impl TicketsService {
    pub fn new(store: Arc<dyn TicketStore>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// Lists a ticket for sale and announces it.
    pub async fn create(&self, seller: UserId, draft: TicketDraft) -> Result<Ticket, TicketsError> {
        let now = self.clock.now();
        let (ticket, created) = Ticket::list(TicketId(new_id()), seller, draft, now);
        let event = Envelope::new(SOURCE, now, &created);
        self.store.insert(&ticket, &event).await?;
        Ok(ticket)
    }

    pub async fn get(&self, id: TicketId) -> Result<Ticket, TicketsError> {
        self.store
            .get(id.get())
            .await?
            .ok_or(TicketsError::NotFound)
    }

    pub async fn list(&self, query: &ListQuery) -> Result<(Vec<Ticket>, u64), TicketsError> {
        Ok(self.store.list(query).await?)
    }

    /// Changes title, price and description; only the seller, only while available.
    pub async fn update(
        &self,
        user: UserId,
        id: TicketId,
        draft: TicketDraft,
    ) -> Result<Ticket, TicketsError> {
        let now = self.clock.now();
        let outcome = self
            .store
            .modify(
                id.get(),
                None,
                Box::new(move |ticket: &mut Ticket| {
                    let updated = ticket.edit(user, draft)?;
                    Ok(Decision::Save(vec![Envelope::new(SOURCE, now, &updated)]))
                }),
            )
            .await?;
        match outcome {
            Modified::Saved(ticket) | Modified::Unchanged(ticket) => Ok(ticket),
            Modified::Refused(rule) => Err(rule.into()),
            Modified::Missing | Modified::Duplicate => Err(TicketsError::NotFound),
        }
    }

    /// Withdraws a listing; only the seller, only while available. The ticket is saved
    /// marked deleted, with its `ticket:deleted` event.
    pub async fn delete(&self, user: UserId, id: TicketId) -> Result<(), TicketsError> {
        let now = self.clock.now();
        let outcome = self
            .store
            .modify(
                id.get(),
                None,
                Box::new(move |ticket: &mut Ticket| {
                    let deleted = ticket.withdraw(user)?;
                    Ok(Decision::Save(vec![Envelope::new(SOURCE, now, &deleted)]))
                }),
            )
            .await?;
        match outcome {
            Modified::Saved(_) | Modified::Unchanged(_) => Ok(()),
            Modified::Refused(rule) => Err(rule.into()),
            Modified::Missing | Modified::Duplicate => Err(TicketsError::NotFound),
        }
    }
}
