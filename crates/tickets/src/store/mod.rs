//! Where tickets are kept: one trait, one implementation per database.
//!
//! Changes go through [`TicketStore::modify`]: the store opens a transaction, records the
//! triggering event in the inbox (for event consumers), loads the ticket under a write
//! lock, lets the caller's pure closure decide, then saves the ticket with the closure's
//! events in the outbox — one transaction, so state and events never disagree.

mod postgres;
mod sqlite;

use std::sync::Arc;

use boxoffice_common::{Id, Money};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::outbox::OutboxStore;
pub use postgres::PostgresTicketStore;
pub use sqlite::SqliteTicketStore;

use crate::domain::{Ticket, TicketError, TicketStatus};

/// What a change decided.
#[derive(Debug)]
pub enum Decision {
    /// Save the ticket and publish these events.
    Save(Vec<Envelope>),
    /// Save the ticket as deleted and publish these events.
    Delete(Vec<Envelope>),
    /// Leave everything as it is.
    Keep,
}

/// A change to one ticket, decided without I/O.
pub type Change = Box<dyn FnOnce(&mut Ticket) -> Result<Decision, TicketError> + Send>;

/// The inbox entry a consumer's change is recorded under.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    pub consumer: &'a str,
    pub event_id: Id,
}

/// What [`TicketStore::modify`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Modified {
    Saved(Ticket),
    Unchanged(Ticket),
    /// The claimed event had been handled before; nothing was done.
    Duplicate,
    /// No such ticket (or it was deleted).
    Missing,
}

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
    pub status: StatusFilter,
    pub sort: Sort,
    pub limit: u32,
    /// 0-based rows to skip.
    pub offset: u64,
}

/// Persistence for tickets.
#[async_trait::async_trait]
pub trait TicketStore: Send + Sync + 'static {
    /// Adds a new ticket together with its `ticket:created` event.
    async fn insert(&self, ticket: &Ticket, event: &Envelope) -> anyhow::Result<()>;
    async fn get(&self, id: Id) -> anyhow::Result<Option<Ticket>>;
    /// One page of tickets and the total number matching.
    async fn list(&self, query: &ListQuery) -> anyhow::Result<(Vec<Ticket>, u64)>;
    /// See the module documentation. The outer error is a storage failure, the inner one
    /// the closure's refusal (in which case nothing was written).
    async fn modify(
        &self,
        id: Id,
        claim: Option<Claim<'_>>,
        change: Change,
    ) -> anyhow::Result<Result<Modified, TicketError>>;
    /// Remembers that an order is over, so its late `order:created` reserves nothing.
    async fn close_order(&self, order_id: Id) -> anyhow::Result<()>;
    async fn is_order_closed(&self, order_id: Id) -> anyhow::Result<bool>;
    /// Records an event as handled without any effect (e.g. about an unknown ticket).
    async fn claim_only(&self, claim: Claim<'_>) -> anyhow::Result<bool>;
    async fn park(&self, consumer: &str, event: &Envelope, reason: &str) -> anyhow::Result<()>;
    async fn dead_letters(&self, consumer: &str) -> anyhow::Result<Vec<(Envelope, String)>>;
    fn outbox(&self) -> Arc<dyn OutboxStore>;
    async fn ping(&self) -> anyhow::Result<()>;
}

impl std::fmt::Debug for dyn TicketStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TicketStore")
    }
}

/// Escapes `%`, `_` and `\` so user text matches literally inside `LIKE '%…%'`.
fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}
