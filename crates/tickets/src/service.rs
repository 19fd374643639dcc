//! The tickets use-cases. The domain decides and returns the event payload; a use-case
//! wraps it in an [`Envelope`] and hands both to the store in one call.
//!
//! A ticket for a catalogue event is checked against the event first (it exists, it has
//! not started — events are never deleted, so the read cannot go stale in a way that
//! matters); its serial number is left to the store's unique index. The catalogue's own
//! use-cases are in [`events`].

pub mod events;

use std::sync::Arc;

use boxoffice_common::{Clock, Id, TicketId, UserId, new_id};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::store::{Decision, Modified};

use crate::domain::{EVENT_NOT_FOUND, EVENT_STARTED, Ticket, TicketDraft, TicketError};
use crate::store::{ListQuery, Listed, TicketStore};

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

    /// Lists a ticket for sale and announces it. A ticket for an event needs the event
    /// to exist and not to have started, and its serial number to be free there.
    pub async fn create(&self, seller: UserId, draft: TicketDraft) -> Result<Ticket, TicketsError> {
        let now = self.clock.now();
        self.check_event(draft.event_id).await?;
        let (ticket, created) = Ticket::list(TicketId(new_id()), seller, draft, now);
        let event = Envelope::new(SOURCE, now, &created);
        match self.store.insert(&ticket, &event).await? {
            Listed::Saved => Ok(ticket),
            Listed::SerialTaken => Err(TicketError::serial_taken().into()),
        }
    }

    /// The ticket `id`, if `user` is its seller: what an edit starts from. Existence and
    /// ownership come before validation, as the contract orders the errors.
    pub async fn owned(&self, user: UserId, id: TicketId) -> Result<Ticket, TicketsError> {
        let ticket = self.get(id).await?;
        if ticket.user_id != user.get() {
            return Err(TicketError::NotOwner.into());
        }
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

    /// Changes title, price, description, event and serial; only the seller, only while
    /// available. The event the ticket ends up with (kept or new) must not have started.
    pub async fn update(
        &self,
        user: UserId,
        id: TicketId,
        draft: TicketDraft,
    ) -> Result<Ticket, TicketsError> {
        let now = self.clock.now();
        self.check_event(draft.event_id).await?;
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

    /// A ticket may be for `event` only if it exists and has not started.
    async fn check_event(&self, event: Option<Id>) -> Result<(), TicketsError> {
        let Some(event) = event else {
            return Ok(());
        };
        match self.store.event(event).await? {
            None => Err(TicketError::field("eventId", EVENT_NOT_FOUND).into()),
            Some(listing) if listing.event.has_started(self.clock.now()) => {
                Err(TicketError::field("eventId", EVENT_STARTED).into())
            }
            Some(_) => Ok(()),
        }
    }
}
