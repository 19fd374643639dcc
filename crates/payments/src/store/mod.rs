//! Where payments, the order replica, processed webhooks and idempotency keys are kept.
//!
//! As in the other services, changes go through a pure closure inside one transaction
//! that also records the triggering event (inbox or webhook id) and writes the outbox.

mod postgres;
mod sqlite;

use std::sync::Arc;

use boxoffice_common::Id;
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::idempotency::IdempotencyKeys;
use boxoffice_platform::outbox::OutboxStore;
pub use postgres::PostgresPaymentStore;
pub use sqlite::SqlitePaymentStore;

use crate::domain::{OrderReplica, Payment};

#[derive(Debug)]
pub enum Decision {
    Save(Vec<Envelope>),
    Keep,
}

/// A change to one payment, decided with the payment and its order as known here.
pub type Change = Box<dyn FnOnce(&mut Payment, Option<&OrderReplica>) -> Decision + Send>;

/// What triggered a change, recorded in the same transaction so it happens once.
#[derive(Debug, Clone, Copy)]
pub enum Trigger<'a> {
    /// A request: nothing to record.
    Request,
    /// A bus event handled by `consumer`.
    Event { consumer: &'a str, event_id: Id },
    /// A provider webhook event.
    Webhook { event_id: &'a str },
}

#[derive(Debug, PartialEq, Eq)]
pub enum Modified {
    Saved(Payment),
    Unchanged(Payment),
    Duplicate,
    Missing,
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
    /// Stores `replica` if it is newer than what is known.
    async fn apply_order(
        &self,
        consumer: &str,
        event_id: Id,
        replica: &OrderReplica,
    ) -> anyhow::Result<ReplicaOutcome>;
    /// Inserts a new payment with `events`. `false` when another payment for the order is
    /// already active (nothing was written).
    async fn insert_payment(&self, payment: &Payment, events: &[Envelope]) -> anyhow::Result<bool>;
    async fn payment(&self, id: Id) -> anyhow::Result<Option<Payment>>;
    async fn payment_by_provider(&self, provider_id: &str) -> anyhow::Result<Option<Payment>>;
    /// The order's payment that is processing, awaiting action or succeeded, if any.
    async fn active_payment(&self, order_id: Id) -> anyhow::Result<Option<Payment>>;
    /// Payments whose refund was started but not confirmed, oldest first.
    async fn refunding(&self, limit: u32) -> anyhow::Result<Vec<Payment>>;
    async fn update_payment(
        &self,
        id: Id,
        trigger: Trigger<'_>,
        change: Change,
    ) -> anyhow::Result<Modified>;
    /// Records a webhook event that concerns no payment of ours. `false` if seen before.
    async fn record_webhook(&self, event_id: &str) -> anyhow::Result<bool>;
    /// Idempotency keys of `POST /api/payments`, in this store's database.
    fn idempotency(&self) -> Arc<dyn IdempotencyKeys>;
    async fn park(&self, consumer: &str, event: &Envelope, reason: &str) -> anyhow::Result<()>;
    fn outbox(&self) -> Arc<dyn OutboxStore>;
    async fn ping(&self) -> anyhow::Result<()>;
}

impl std::fmt::Debug for dyn PaymentStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PaymentStore")
    }
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}
