//! Where orders and the ticket replica are kept: one trait, one implementation per database.
//!
//! Changes to an order go through [`OrderStore::modify`] (inbox claim, locked load, pure
//! decision, save with outbox rows — one transaction); replica updates through
//! [`OrderStore::apply_to_replica`] in the same way. Placing an order is a plain insert
//! that the unique index `orders_one_holder_per_ticket` accepts for exactly one live
//! order per ticket.

mod postgres;
mod sqlite;

use std::sync::Arc;

use boxoffice_common::Id;
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::idempotency::IdempotencyKeys;
use boxoffice_platform::outbox::OutboxStore;
pub use postgres::PostgresOrderStore;
pub use sqlite::SqliteOrderStore;

use crate::domain::{LineGate, Order, OrderError, TicketReplica};

/// What a change to an order decided.
#[derive(Debug)]
pub enum Decision {
    Save(Vec<Envelope>),
    Keep,
}

/// A change to one order, decided without I/O.
pub type Change = Box<dyn FnOnce(&mut Order) -> Result<Decision, OrderError> + Send>;

/// What a replica update decided, given the current replica row (if any).
#[derive(Debug)]
pub enum ReplicaDecision {
    Upsert(TicketReplica),
    Keep,
    /// An earlier version is missing: change nothing, not even the inbox.
    NotYet,
}

pub type ReplicaChange = Box<dyn FnOnce(Option<&TicketReplica>) -> ReplicaDecision + Send>;

/// The inbox entry a consumer's change is recorded under.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    pub consumer: &'a str,
    pub event_id: Id,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Modified {
    Saved(Order),
    Unchanged(Order),
    Duplicate,
    Missing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaOutcome {
    Applied,
    Kept,
    Duplicate,
    NotYet,
}

/// Persistence for orders and the ticket replica.
#[async_trait::async_trait]
pub trait OrderStore: Send + Sync + 'static {
    async fn ticket(&self, id: Id) -> anyhow::Result<Option<TicketReplica>>;
    /// Inserts a new order with its `order:created` event. `false` when another live or
    /// completed order already holds the ticket (nothing was written).
    async fn insert(&self, order: &Order, event: &Envelope) -> anyhow::Result<bool>;
    async fn get(&self, id: Id) -> anyhow::Result<Option<Order>>;
    /// A buyer's orders, oldest first.
    async fn for_user(&self, user: Id) -> anyhow::Result<Vec<Order>>;
    async fn modify(
        &self,
        id: Id,
        claim: Option<Claim<'_>>,
        change: Change,
    ) -> anyhow::Result<Result<Modified, OrderError>>;
    async fn apply_to_replica(
        &self,
        ticket_id: Id,
        claim: Claim<'_>,
        change: ReplicaChange,
    ) -> anyhow::Result<ReplicaOutcome>;
    /// Whether a live or completed order holds the ticket.
    async fn is_held(&self, ticket_id: Id) -> anyhow::Result<bool>;
    /// The ticket and its line as the queue service last reported it, in one read: what
    /// placing an order needs to know.
    async fn ticket_with_line(
        &self,
        id: Id,
    ) -> anyhow::Result<Option<(TicketReplica, Option<LineGate>)>>;
    /// Keeps `gate` if it is newer than the one stored, recording the event in the inbox.
    async fn apply_line_gate(
        &self,
        claim: Claim<'_>,
        gate: &LineGate,
    ) -> anyhow::Result<ReplicaOutcome>;
    /// Idempotency keys of `POST /api/orders`, in this store's database.
    fn idempotency(&self) -> Arc<dyn IdempotencyKeys>;
    async fn park(&self, consumer: &str, event: &Envelope, reason: &str) -> anyhow::Result<()>;
    async fn dead_letters(&self, consumer: &str) -> anyhow::Result<Vec<(Envelope, String)>>;
    fn outbox(&self) -> Arc<dyn OutboxStore>;
    async fn ping(&self) -> anyhow::Result<()>;
}

impl std::fmt::Debug for dyn OrderStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OrderStore")
    }
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}
