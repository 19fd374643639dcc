//! Where scheduled jobs are kept: one trait, one implementation per database.

mod postgres;
mod sqlite;

use std::sync::Arc;

use boxoffice_common::Id;
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::outbox::OutboxStore;
pub use postgres::PostgresJobStore;
pub use sqlite::SqliteJobStore;
use time::OffsetDateTime;

/// Builds the event a fired job publishes.
pub type EventFor<'a> = &'a (dyn Fn(Id) -> Envelope + Sync);

#[async_trait::async_trait]
pub trait JobStore: Send + Sync + 'static {
    /// Schedules the expiry of `order_id` at `due_at` (one job per order and due time), recording `event_id` in the inbox
    /// under `consumer` in the same transaction. `false` for an event seen before.
    async fn schedule(
        &self,
        consumer: &str,
        event_id: Id,
        order_id: Id,
        due_at: OffsetDateTime,
    ) -> anyhow::Result<bool>;
    /// When the earliest job is due, if there is one.
    async fn next_due(&self) -> anyhow::Result<Option<OffsetDateTime>>;
    /// Atomically takes up to `limit` jobs due at `now`, deletes them and writes their
    /// events to the outbox. Concurrent callers never take the same job.
    async fn fire_due(
        &self,
        now: OffsetDateTime,
        limit: u32,
        event_for: EventFor<'_>,
    ) -> anyhow::Result<Vec<Id>>;
    /// Jobs still waiting.
    async fn pending(&self) -> anyhow::Result<u64>;
    async fn park(&self, consumer: &str, event: &Envelope, reason: &str) -> anyhow::Result<()>;
    fn outbox(&self) -> Arc<dyn OutboxStore>;
    async fn ping(&self) -> anyhow::Result<()>;
}

impl std::fmt::Debug for dyn JobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JobStore")
    }
}
