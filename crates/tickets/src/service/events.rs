//! The catalogue's use-cases: create (or find) an event, show it, list the events to come,
//! and let its creator edit it. The domain decides and returns the `event:created` /
//! `event:updated` payload; a use-case wraps it in an envelope and hands both to the store.

use std::sync::Arc;

use boxoffice_common::{Clock, UserId, new_id};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::store::{Decision, Modified};
use time::OffsetDateTime;

use super::SOURCE;
use crate::domain::event::{
    CatalogueEvent, CatalogueEventDraft, CatalogueEventError, CatalogueEventId, EventListing,
};
use crate::store::{Catalogued, EventQuery, TicketStore};

/// Why a catalogue use-case did not happen.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("event not found")]
    NotFound,
    #[error(transparent)]
    Rule(#[from] CatalogueEventError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Cheap to clone; shared by every request.
#[derive(Debug, Clone)]
pub struct CatalogueService {
    store: Arc<dyn TicketStore>,
    clock: Arc<dyn Clock>,
}

impl CatalogueService {
    pub fn new(store: Arc<dyn TicketStore>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// The clock's reading, for validating a start ("a future date").
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// Adds an event to the catalogue and announces it — or, when one with the same
    /// name, venue and start exists, answers that one and announces nothing.
    pub async fn create(
        &self,
        creator: UserId,
        draft: CatalogueEventDraft,
    ) -> Result<Catalogued, CatalogueError> {
        let now = self.clock.now();
        let (event, created) =
            CatalogueEvent::create(CatalogueEventId(new_id()), creator, draft, now);
        let announce = Envelope::new(SOURCE, now, &created);
        Ok(self.store.insert_event(&event, &announce).await?)
    }

    /// One event, started or not.
    pub async fn get(&self, id: CatalogueEventId) -> Result<EventListing, CatalogueError> {
        self.store
            .event(id.get())
            .await?
            .ok_or(CatalogueError::NotFound)
    }

    /// A page of the events that have not started yet, and how many match.
    pub async fn list(
        &self,
        query: &EventQuery,
    ) -> Result<(Vec<EventListing>, u64), CatalogueError> {
        Ok(self.store.list_events(query).await?)
    }

    /// The event `id`, if `user` created it: what an edit starts from. Existence and
    /// ownership come before validation.
    pub async fn owned(
        &self,
        user: UserId,
        id: CatalogueEventId,
    ) -> Result<EventListing, CatalogueError> {
        let listing = self.get(id).await?;
        listing.event.check_creator(user)?;
        Ok(listing)
    }

    /// The creator changes the event; version + 1 and `event:updated`.
    pub async fn update(
        &self,
        user: UserId,
        id: CatalogueEventId,
        draft: CatalogueEventDraft,
    ) -> Result<EventListing, CatalogueError> {
        let now = self.clock.now();
        let outcome = self
            .store
            .modify_event(
                id.get(),
                Box::new(move |event: &mut CatalogueEvent| {
                    let updated = event.edit(user, draft)?;
                    Ok(Decision::Save(vec![Envelope::new(SOURCE, now, &updated)]))
                }),
            )
            .await?;
        match outcome {
            Modified::Saved(listing) | Modified::Unchanged(listing) => Ok(listing),
            Modified::Refused(rule) => Err(rule.into()),
            Modified::Missing | Modified::Duplicate => Err(CatalogueError::NotFound),
        }
    }
}
