//! Where tickets are kept: one trait, one implementation per database.
//!
//! * `sql` — every ticket statement, written once with `$n` placeholders, and the row
//!   both databases read into; `listing` — the ticket listing's query builder.
//! * `event_sql` — the same for the events catalogue ([`CatalogueStore`]), whose reads
//!   count each event's available tickets and cheapest price in the same query.
//! * `sqlite` / `postgres` — the transactions: `BEGIN IMMEDIATE` on SQLite, row locks
//!   (`FOR UPDATE`) on PostgreSQL, each in plain sight; `sqlite_events` /
//!   `postgres_events` — the catalogue's. `recent` — the SQLite store's copy of recent
//!   tickets, which answers a ticket page without the database (exact in one process;
//!   PostgreSQL replicas share their database, so they keep none).
//!
//! Changes go through [`TicketStore::modify`]: the store opens a transaction, records the
//! triggering event in the inbox (for event consumers), loads the ticket under a write
//! lock, lets the caller's pure closure decide, then saves the ticket with the closure's
//! events in the outbox — one transaction, so state and events never disagree. Withdrawing
//! a ticket is such a save too: the ticket comes back marked [`Ticket::deleted`], and from
//! then on it is [`Modified::Missing`] to every later change. [`TicketStore::modify_all`]
//! does the same for a group of changes in one transaction (the order events an on-sale
//! queues), each in a savepoint of its own so a refusal takes back only itself.
//!
//! Serial numbers are unique per event among live tickets: the partial unique index
//! `tickets_serial` decides, on insert ([`Listed::SerialTaken`]) and on every save (a
//! [`Modified::Refused`] with `Ticket already exists`), never a read before the write.
//!
//! The store kit ([`Claim`], [`Decision`], [`Modified`], [`Plumbing`]) is the platform's
//! (`boxoffice_platform::store`); nothing here redeclares it.

mod catalogue;
mod event_sql;
mod listing;
mod postgres;
mod postgres_events;
mod recent;
mod sql;
mod sqlite;
mod sqlite_events;

use std::sync::Arc;

use boxoffice_common::{Id, Money};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::store::{Claim, Decision, Modified, Plumbing, only};
pub use catalogue::{CatalogueStore, Catalogued, EventChange, EventQuery};
pub use postgres::PostgresTicketStore;
pub use sqlite::SqliteTicketStore;

use crate::domain::{Ticket, TicketError, TicketStatus};

/// A change to one ticket, decided without I/O.
pub type Change = Box<dyn FnOnce(&mut Ticket) -> Result<Decision, TicketError> + Send>;

/// One change of [`TicketStore::modify_all`]: the ticket, the event claimed for it (if
/// any), and what to do with it.
pub struct TicketEdit<'a> {
    pub id: Id,
    pub claim: Option<Claim<'a>>,
    pub change: Change,
}

impl std::fmt::Debug for TicketEdit<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TicketEdit")
            .field("id", &self.id)
            .field("claim", &self.claim)
            .finish_non_exhaustive()
    }
}

/// What [`TicketStore::modify`] did.
pub type TicketModified = Modified<Ticket, TicketError>;

/// Sort orders of the listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// Oldest first.
    #[default]
    Oldest,
    Newest,
    PriceAscending,
    PriceDescending,
}

/// Which statuses the listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatusFilter {
    /// Available and reserved.
    #[default]
    NotSold,
    Only(TicketStatus),
    All,
}

/// A validated listing query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// Title contains, case-insensitively.
    pub text: Option<String>,
    pub min_price: Option<Money>,
    pub max_price: Option<Money>,
    pub seller: Option<Id>,
    /// One catalogue event's tickets.
    pub event: Option<Id>,
    pub status: StatusFilter,
    pub sort: Sort,
    pub limit: u32,
    /// 0-based rows to skip.
    pub offset: u64,
}

/// What came of adding a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Listed {
    /// Saved, with its event in the outbox.
    Saved,
    /// Another live ticket of the event has the serial number; nothing was written.
    SerialTaken,
}

/// Persistence for tickets, and (as [`CatalogueStore`]) for the events they are for: one
/// database, so an event's ticket counts are read from the tickets themselves.
#[async_trait::async_trait]
pub trait TicketStore: CatalogueStore + Send + Sync + 'static {
    /// Adds a new ticket together with its `ticket:created` event.
    async fn insert(&self, ticket: &Ticket, event: &Envelope) -> anyhow::Result<Listed>;
    async fn get(&self, id: Id) -> anyhow::Result<Option<Ticket>>;
    /// One page of tickets and the total number matching.
    async fn list(&self, query: &ListQuery) -> anyhow::Result<(Vec<Ticket>, u64)>;
    /// See the module documentation. An error is a storage failure; the closure's
    /// refusal is [`Modified::Refused`] (and then nothing was written). A deleted ticket
    /// is [`Modified::Missing`]. A save the serial index refuses is
    /// [`Modified::Refused`] with [`TicketError::serial_taken`].
    async fn modify(
        &self,
        id: Id,
        claim: Option<Claim<'_>>,
        change: Change,
    ) -> anyhow::Result<TicketModified> {
        let edit = TicketEdit { id, claim, change };
        only(self.modify_all(vec![edit]).await?)
    }
    /// [`Self::modify`] for each of `edits`, in order, in one transaction: one commit for
    /// a queue of order events. An edit that refuses writes nothing (not its claim
    /// either) and leaves the others be; an error writes nothing at all. One outcome per
    /// edit, in order.
    async fn modify_all(&self, edits: Vec<TicketEdit<'_>>) -> anyhow::Result<Vec<TicketModified>>;
    /// Remembers that an order is over, so its late `order:created` reserves nothing.
    async fn close_order(&self, order_id: Id) -> anyhow::Result<()>;
    async fn is_order_closed(&self, order_id: Id) -> anyhow::Result<bool>;
    /// Records an event as handled without any effect (e.g. about an unknown ticket).
    async fn claim_only(&self, claim: Claim<'_>) -> anyhow::Result<bool>;
    /// The outbox, inbox and dead letters every store has, and its `/readyz` ping.
    fn plumbing(&self) -> Arc<dyn Plumbing>;
}

impl std::fmt::Debug for dyn TicketStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TicketStore")
    }
}
