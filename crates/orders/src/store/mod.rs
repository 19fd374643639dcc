//! Where orders and the ticket replica are kept: one trait, one implementation per database.
//!
//! * `sql` — every statement, written once with `$n` placeholders for both databases
//!   (the few that only one dialect has say so).
//! * `rows` — the row structs both databases read into (`DbId`/`DbTime` columns) and
//!   the binding of a domain value to a statement's placeholders.
//! * `reads` — the reads, generic over the database, run on a pool or inside a
//!   transaction.
//! * `holds` — holding a basket's tickets and asking which are held, statements as long
//!   as the basket.
//! * `memory` — the embedded store's copy of the holds and replicas, kept in step with
//!   its commits, which refuses attempts for held tickets without a database read.
//! * `sqlite` / `postgres` — the transactions: `BEGIN IMMEDIATE` on SQLite, row and
//!   advisory locks on PostgreSQL, in plain sight per database.
//!
//! Changes to an order go through [`OrderStore::modify`] (inbox claim, locked load, pure
//! decision, save with outbox rows — one transaction, platform's store kit); replica
//! updates through [`OrderStore::apply_to_replica`] in the same way, and a queue of them
//! (with line updates) through [`OrderStore::apply_to_replicas`] in one transaction. Placing an order
//! inserts it with one `ticket_holds` row per ticket in one transaction; the table's
//! primary key admits exactly one live or paid order per ticket, so a basket is held
//! whole or not at all. Cancelling an order deletes its rows in the transaction that
//! cancels it.

mod holds;
mod memory;
mod postgres;
mod reads;
mod rows;
mod sql;
mod sqlite;

use std::sync::Arc;

use boxoffice_common::Id;
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::idempotency::IdempotencyKeys;
use boxoffice_platform::store::{Claim, Decision, Modified, Plumbing, only};
pub use postgres::PostgresOrderStore;
pub use sqlite::SqliteOrderStore;

use crate::domain::{LineGate, Order, OrderError, RoomGate, TicketReplica};

/// A change to one order, decided without I/O.
pub type Change = Box<dyn FnOnce(&mut Order) -> Result<Decision, OrderError> + Send>;

/// One change of [`OrderStore::modify_all`]: the order, the event claimed for it (if
/// any), and what to do with it.
pub struct OrderEdit<'a> {
    pub id: Id,
    pub claim: Option<Claim<'a>>,
    pub change: Change,
}

impl std::fmt::Debug for OrderEdit<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrderEdit")
            .field("id", &self.id)
            .field("claim", &self.claim)
            .finish_non_exhaustive()
    }
}

/// What [`OrderStore::modify`] did.
pub type OrderModified = Modified<Order, OrderError>;

/// What a replica update decided, given the current replica row (if any). Unlike the
/// kit's [`Decision`] it can defer: ticket versions must apply in order, and the inbox
/// must not record an event that came too early.
#[derive(Debug)]
pub enum ReplicaDecision {
    Upsert(TicketReplica),
    Keep,
    /// An earlier version is missing: change nothing, not even the inbox.
    NotYet,
}

pub type ReplicaChange = Box<dyn FnOnce(Option<&TicketReplica>) -> ReplicaDecision + Send>;

/// One update of [`OrderStore::apply_to_replicas`], recorded in the inbox under its claim.
pub enum ReplicaEdit<'a> {
    /// A ticket's replica, as [`OrderStore::apply_to_replica`].
    Ticket {
        id: Id,
        claim: Claim<'a>,
        change: ReplicaChange,
    },
    /// A ticket's line, as [`OrderStore::apply_line_gate`].
    Line { claim: Claim<'a>, gate: LineGate },
}

impl std::fmt::Debug for ReplicaEdit<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ticket { id, claim, .. } => f
                .debug_struct("Ticket")
                .field("id", id)
                .field("claim", claim)
                .finish_non_exhaustive(),
            Self::Line { claim, gate } => f
                .debug_struct("Line")
                .field("claim", claim)
                .field("gate", gate)
                .finish(),
        }
    }
}

/// What became of a replica or line update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaOutcome {
    Applied,
    Kept,
    Duplicate,
    NotYet,
}

/// A waiting room's per-account limit an order must stay within: the buyer's tickets of
/// `event_id` in live or paid orders, this order's `tickets` included, at most `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountLimit {
    pub event_id: Id,
    pub limit: u32,
    /// How many of the new order's tickets are for the event.
    pub tickets: u32,
}

/// What became of an order the store was asked to place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    Placed,
    /// Another live or completed order holds one of its tickets.
    Held,
    /// The buyer would hold more of an event's tickets than its room allows.
    OverLimit,
}

/// Persistence for orders and the ticket replica.
#[async_trait::async_trait]
pub trait OrderStore: Send + Sync + 'static {
    async fn ticket(&self, id: Id) -> anyhow::Result<Option<TicketReplica>>;
    /// Inserts a new order with its `order:created` event, holding all of its tickets.
    /// `false` when another live or completed order already holds any of them (then
    /// nothing was written).
    async fn insert(&self, order: &Order, event: &Envelope) -> anyhow::Result<bool> {
        Ok(self.insert_within(order, event, &[]).await? == Placement::Placed)
    }
    /// [`Self::insert`] within the waiting rooms' `limits`: the buyer's count for each
    /// event is taken in the inserting transaction, with concurrent orders of the same
    /// buyer kept out (SQLite's single writer; a per-buyer-and-event lock on PostgreSQL),
    /// so two orders can never both pass a limit only one of them fits in.
    async fn insert_within(
        &self,
        order: &Order,
        event: &Envelope,
        limits: &[AccountLimit],
    ) -> anyhow::Result<Placement>;
    async fn get(&self, id: Id) -> anyhow::Result<Option<Order>>;
    /// A buyer's orders, oldest first.
    async fn for_user(&self, user: Id) -> anyhow::Result<Vec<Order>>;
    /// Claims the event (if any), loads the order under a write lock, lets `change`
    /// decide and saves what it decided, in one transaction.
    async fn modify(
        &self,
        id: Id,
        claim: Option<Claim<'_>>,
        change: Change,
    ) -> anyhow::Result<OrderModified> {
        let edit = OrderEdit { id, claim, change };
        only(self.modify_all(vec![edit]).await?)
    }
    /// [`Self::modify`] for each of `edits`, in order, in one transaction: one commit for
    /// a queue of payment events. An edit that refuses writes nothing (not its claim
    /// either) and leaves the others be; an error writes nothing at all. One outcome per
    /// edit, in order.
    async fn modify_all(&self, edits: Vec<OrderEdit<'_>>) -> anyhow::Result<Vec<OrderModified>>;
    /// Locks the ticket's replica, lets `change` decide on it and saves what it decided,
    /// with the claim, in one transaction; [`ReplicaDecision::NotYet`] writes nothing,
    /// not even the claim.
    async fn apply_to_replica(
        &self,
        ticket_id: Id,
        claim: Claim<'_>,
        change: ReplicaChange,
    ) -> anyhow::Result<ReplicaOutcome> {
        let edit = ReplicaEdit::Ticket {
            id: ticket_id,
            claim,
            change,
        };
        only(self.apply_to_replicas(vec![edit]).await?)
    }
    /// [`Self::apply_to_replica`] and [`Self::apply_line_gate`] for each of `edits`, in
    /// order, in one transaction: one commit for the ticket and line updates an on-sale
    /// queues. An error writes nothing. One outcome per edit, in order.
    async fn apply_to_replicas(
        &self,
        edits: Vec<ReplicaEdit<'_>>,
    ) -> anyhow::Result<Vec<ReplicaOutcome>>;
    /// Which of `tickets` a live or completed order holds, in no particular order.
    async fn held_among(&self, tickets: &[Id]) -> anyhow::Result<Vec<Id>>;
    /// The ticket and its line as the queue service last reported it, in one read: what
    /// placing an order needs to know.
    async fn ticket_with_line(
        &self,
        id: Id,
    ) -> anyhow::Result<Option<(TicketReplica, Option<LineGate>)>>;
    /// The replica of `ticket` and whether an order holds it, from memory kept exactly in
    /// step with this store's commits — or `None` when the store keeps no such memory or
    /// has not seen the ticket (then ask the database).
    fn recall(&self, _ticket: Id) -> Option<(TicketReplica, bool)> {
        None
    }
    /// Keeps `gate` if it is newer than the one stored, recording the event in the inbox.
    async fn apply_line_gate(
        &self,
        claim: Claim<'_>,
        gate: &LineGate,
    ) -> anyhow::Result<ReplicaOutcome> {
        let edit = ReplicaEdit::Line {
            claim,
            gate: gate.clone(),
        };
        only(self.apply_to_replicas(vec![edit]).await?)
    }
    /// The event's waiting room as the queue service last reported it.
    async fn room_gate(&self, event: Id) -> anyhow::Result<Option<RoomGate>>;
    /// Keeps `gate` if it is newer than the one stored, recording the event in the inbox.
    async fn apply_room_gate(
        &self,
        claim: Claim<'_>,
        gate: &RoomGate,
    ) -> anyhow::Result<ReplicaOutcome>;
    /// Idempotency keys of `POST /api/orders`, in this store's database.
    fn idempotency(&self) -> Arc<dyn IdempotencyKeys>;
    /// The outbox, inbox and dead letters in this store's database.
    fn plumbing(&self) -> Arc<dyn Plumbing>;
}

impl std::fmt::Debug for dyn OrderStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OrderStore")
    }
}
