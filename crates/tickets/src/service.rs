//! The tickets use-cases.

use std::sync::Arc;

use boxoffice_common::events::{TicketCreated, TicketDeleted};
use boxoffice_common::{Clock, Id, new_id};
use boxoffice_platform::bus::Envelope;

use crate::domain::{Ticket, TicketDraft, TicketError};
use crate::store::{Decision, ListQuery, Modified, TicketStore};

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

    pub fn store(&self) -> &Arc<dyn TicketStore> {
        &self.store
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Lists a ticket for sale and announces it.
    pub async fn create(&self, seller: Id, draft: TicketDraft) -> Result<Ticket, TicketsError> {
        let now = self.clock.now();
        let ticket = Ticket::list(new_id(), seller, draft, now);
        let event = Envelope::new(
            SOURCE,
            now,
            &TicketCreated {
                id: ticket.id,
                version: ticket.version,
                title: ticket.title.clone(),
                price: ticket.price.minor(),
                user_id: ticket.user_id,
            },
        );
        self.store.insert(&ticket, &event).await?;
        Ok(ticket)
    }

    pub async fn get(&self, id: Id) -> Result<Ticket, TicketsError> {
        self.store.get(id).await?.ok_or(TicketsError::NotFound)
    }

    pub async fn list(&self, query: &ListQuery) -> Result<(Vec<Ticket>, u64), TicketsError> {
        Ok(self.store.list(query).await?)
    }

    /// Changes title, price and description; only the seller, only while available.
    pub async fn update(
        &self,
        user: Id,
        id: Id,
        draft: TicketDraft,
    ) -> Result<Ticket, TicketsError> {
        let now = self.clock.now();
        let outcome = self
            .store
            .modify(
                id,
                None,
                Box::new(move |ticket: &mut Ticket| {
                    ticket.edit(user, draft)?;
                    Ok(Decision::Save(vec![Envelope::new(
                        SOURCE,
                        now,
                        &ticket.updated_event(),
                    )]))
                }),
            )
            .await??;
        match outcome {
            Modified::Saved(ticket) | Modified::Unchanged(ticket) => Ok(ticket),
            Modified::Missing | Modified::Duplicate => Err(TicketsError::NotFound),
        }
    }

    /// Withdraws a listing; only the seller, only while available.
    pub async fn delete(&self, user: Id, id: Id) -> Result<(), TicketsError> {
        let now = self.clock.now();
        let outcome = self
            .store
            .modify(
                id,
                None,
                Box::new(move |ticket: &mut Ticket| {
                    ticket.withdraw(user)?;
                    let event = TicketDeleted {
                        id: ticket.id,
                        version: ticket.version,
                    };
                    Ok(Decision::Delete(vec![Envelope::new(SOURCE, now, &event)]))
                }),
            )
            .await??;
        match outcome {
            Modified::Saved(_) | Modified::Unchanged(_) => Ok(()),
            Modified::Missing | Modified::Duplicate => Err(TicketsError::NotFound),
        }
    }
}
