//! Where catalogue events are kept: beside the tickets, in the same database, so that an
//! event's `ticketsAvailable` and `minPrice` are one indexed aggregate over its tickets at
//! read time — right under any concurrency, with no counter to keep in step.
//!
//! Duplicates are the unique index's to decide: [`CatalogueStore::insert_event`] inserts
//! with `ON CONFLICT DO NOTHING` and, when nothing was inserted, reads the event that
//! holds the key ([`Catalogued::Existing`]); an edit that collides is refused
//! ([`CatalogueEventError::exists`]) when its `UPDATE` hits the index.

use boxoffice_common::Id;
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::store::{Decision, Modified};
use time::OffsetDateTime;

use crate::domain::event::{CatalogueEvent, CatalogueEventError, EventListing};

/// A change to one event, decided without I/O.
pub type EventChange =
    Box<dyn FnOnce(&mut CatalogueEvent) -> Result<Decision, CatalogueEventError> + Send>;

/// What came of adding an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Catalogued {
    /// The event is new; its `event:created` is in the outbox.
    Created(EventListing),
    /// An event with the same name, venue and start was there already: that one. Nothing
    /// was written.
    Existing(EventListing),
}

/// A validated catalogue query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventQuery {
    /// Only events starting after this instant (those that have not started).
    pub after: OffsetDateTime,
    /// Name or venue contains, case-insensitively.
    pub text: Option<String>,
    /// Starting at or after.
    pub from: Option<OffsetDateTime>,
    /// Starting at or before.
    pub to: Option<OffsetDateTime>,
    pub limit: u32,
    /// 0-based rows to skip.
    pub offset: u64,
}

/// Persistence for catalogue events. Every read comes with the event's ticket counts.
#[async_trait::async_trait]
pub trait CatalogueStore: Send + Sync + 'static {
    /// Adds `event` with its `event:created`, unless the unique index already holds its
    /// name, venue and start; see [`Catalogued`].
    async fn insert_event(
        &self,
        event: &CatalogueEvent,
        created: &Envelope,
    ) -> anyhow::Result<Catalogued>;
    async fn event(&self, id: Id) -> anyhow::Result<Option<EventListing>>;
    /// One page of the catalogue, soonest first, and the total number matching.
    async fn list_events(&self, query: &EventQuery) -> anyhow::Result<(Vec<EventListing>, u64)>;
    /// Loads the event under a write lock, lets `change` decide, saves it with the
    /// change's events — one transaction. A save the unique index refuses is
    /// [`Modified::Refused`] with [`CatalogueEventError::exists`]; nothing is written.
    async fn modify_event(
        &self,
        id: Id,
        change: EventChange,
    ) -> anyhow::Result<Modified<EventListing, CatalogueEventError>>;
}
