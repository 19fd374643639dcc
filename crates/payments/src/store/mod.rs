//! Where payments, the order replica, processed webhooks and idempotency keys are kept.
//!
//! * [`PaymentStore`] — the trait the service uses.
//! * `sql` — every statement, written once for both databases, with the row structs
//!   and the binding of entities to statements.
//! * [`SqlitePaymentStore`], [`PostgresPaymentStore`] — transactions and locking, per
//!   database: `BEGIN IMMEDIATE` on SQLite, `SELECT … FOR UPDATE` on PostgreSQL.
//!
//! As in the other services, a payment changes through a pure closure inside one
//! transaction that also records what triggered it (inbox claim or webhook id) and writes
//! the outbox; the closure may refuse, which writes nothing.

mod postgres;
mod sql;
mod sqlite;

use std::sync::Arc;

use boxoffice_common::Id;
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::idempotency::IdempotencyKeys;
use boxoffice_platform::store::only;
pub use boxoffice_platform::store::{Claim, Decision, Modified, Plumbing};
pub use postgres::PostgresPaymentStore;
pub use sqlite::SqlitePaymentStore;

use crate::domain::{OrderReplica, Payment, PaymentError};

/// A change to one payment, decided with the payment and its order as known here.
pub type Change =
    Box<dyn FnOnce(&mut Payment, Option<&OrderReplica>) -> Result<Decision, PaymentError> + Send>;

/// What triggered a change, recorded in the same transaction so it happens once.
#[derive(Debug, Clone, Copy)]
pub enum Trigger<'a> {
    /// A request: nothing to record.
    Request,
    /// A bus event, claimed in the inbox.
    Event(Claim<'a>),
    /// A provider webhook event.
    Webhook { event_id: &'a str },
}

/// The payment an [`Edit`] changes.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// Payment `id`, decided with its order as the replica knows it.
    Payment(Id),
    /// The order's active payment, after keeping this newer state of the order (the
    /// orders service decided about it).
    ActiveFor(&'a OrderReplica),
}

/// One change of [`PaymentStore::modify_all`].
pub struct Edit<'a> {
    pub target: Target<'a>,
    pub trigger: Trigger<'a>,
    pub change: Change,
}

impl std::fmt::Debug for Edit<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Edit")
            .field("target", &self.target)
            .field("trigger", &self.trigger)
            .finish_non_exhaustive()
    }
}

/// How a payment is looked up; each key has its own fixed statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentKey<'a> {
    /// Our id.
    Id(Id),
    /// The provider's id (`pi_…`): how a webhook names its payment.
    ProviderId(&'a str),
    /// The order's payment that is processing, awaiting action or succeeded.
    ActiveForOrder(Id),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaOutcome {
    Applied,
    Stale,
    Duplicate,
}

#[async_trait::async_trait]
pub trait PaymentStore: Send + Sync + 'static {
    async fn order(&self, id: Id) -> anyhow::Result<Option<OrderReplica>>;
    /// Stores `replica` if it is newer than what is known, once per `claim`.
    async fn apply_order(
        &self,
        claim: Claim<'_>,
        replica: &OrderReplica,
    ) -> anyhow::Result<ReplicaOutcome> {
        only(self.apply_orders(&[(claim, replica.clone())]).await?)
    }
    /// [`Self::apply_order`] for each of `replicas`, in order, in one transaction: all
    /// of them or (on an error) none.
    async fn apply_orders(
        &self,
        replicas: &[(Claim<'_>, OrderReplica)],
    ) -> anyhow::Result<Vec<ReplicaOutcome>>;
    /// Inserts a new payment with `events`. `false` when another payment for the order is
    /// already active (nothing was written).
    async fn insert_payment(&self, payment: &Payment, events: &[Envelope]) -> anyhow::Result<bool>;
    async fn payment(&self, key: PaymentKey<'_>) -> anyhow::Result<Option<Payment>>;
    /// Payments with a step left half-way, oldest first: undecided (`authorized`), or a
    /// capture, void or refund started but not confirmed; `limit` of them after the
    /// first `offset`, so a caller can page past rows that keep failing.
    async fn unfinished(&self, offset: u32, limit: u32) -> anyhow::Result<Vec<Payment>>;
    /// Applies `change` to payment `id`, once per `trigger`.
    async fn modify(
        &self,
        id: Id,
        trigger: Trigger<'_>,
        change: Change,
    ) -> anyhow::Result<Modified<Payment, PaymentError>> {
        let edit = Edit {
            target: Target::Payment(id),
            trigger,
            change,
        };
        only(self.modify_all(vec![edit]).await?)
    }
    /// The orders service decided about an order (`order:completed`): in one transaction,
    /// claims the event, keeps `replica` if it is newer, and applies `change` to the
    /// order's active payment, if there is one (`Missing` if not).
    async fn decide_for_order(
        &self,
        claim: Claim<'_>,
        replica: &OrderReplica,
        change: Change,
    ) -> anyhow::Result<Modified<Payment, PaymentError>> {
        let edit = Edit {
            target: Target::ActiveFor(replica),
            trigger: Trigger::Event(claim),
            change,
        };
        only(self.modify_all(vec![edit]).await?)
    }
    /// Applies each of `edits` as [`Self::modify`] or [`Self::decide_for_order`] would, in
    /// order, in one transaction: one commit for a queue of decisions or captures. An edit
    /// that refuses writes nothing (not its claim either) and leaves the others be; an
    /// error writes nothing at all. One outcome per edit, in order.
    async fn modify_all(
        &self,
        edits: Vec<Edit<'_>>,
    ) -> anyhow::Result<Vec<Modified<Payment, PaymentError>>>;
    /// Records a webhook event that concerns no payment of ours. `false` if seen before.
    async fn record_webhook(&self, event_id: &str) -> anyhow::Result<bool>;
    /// Idempotency keys of `POST /api/payments`, in this store's database.
    fn idempotency(&self) -> Arc<dyn IdempotencyKeys>;
    /// The outbox, dead letters and ping of this store's database.
    fn plumbing(&self) -> Arc<dyn Plumbing>;
}

impl std::fmt::Debug for dyn PaymentStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PaymentStore")
    }
}
