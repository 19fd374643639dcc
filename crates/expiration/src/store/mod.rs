//! Where scheduled jobs are kept: one trait, one implementation per database.
//!
//! * [`sql`] — the statements, written once where both databases read them alike; the
//!   take of due jobs per dialect (`rowid` on SQLite, `SKIP LOCKED` on PostgreSQL).
//! * `sqlite` / `postgres` — [`SqliteJobStore`] and [`PostgresJobStore`]: the write
//!   transactions (`BEGIN IMMEDIATE` or a pool transaction) and their outbox and inbox.

mod postgres;
mod sql;
mod sqlite;

use std::sync::Arc;

use boxoffice_common::Id;
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::store::{Claim, Plumbing, only};
pub use postgres::PostgresJobStore;
pub use sqlite::SqliteJobStore;
use time::OffsetDateTime;

/// Builds the event a fired job publishes.
pub type EventFor<'a> = &'a (dyn Fn(Id) -> Envelope + Sync);

/// An order's hold end to schedule, for the event (`claim`) that announced it.
#[derive(Debug, Clone, Copy)]
pub struct Job<'a> {
    pub claim: Claim<'a>,
    pub order_id: Id,
    pub due_at: OffsetDateTime,
}

#[async_trait::async_trait]
pub trait JobStore: Send + Sync + 'static {
    /// Schedules the expiry of `order_id` at `due_at` (one job per order and due time),
    /// recording `claim` in the inbox in the same transaction. `false` for an event seen
    /// before.
    async fn schedule(
        &self,
        claim: Claim<'_>,
        order_id: Id,
        due_at: OffsetDateTime,
    ) -> anyhow::Result<bool> {
        let job = Job {
            claim,
            order_id,
            due_at,
        };
        only(self.schedule_all(&[job]).await?)
    }
    /// [`Self::schedule`] for each of `jobs`, in one transaction: all of them or (on an
    /// error) none. One answer per job, in order.
    async fn schedule_all(&self, jobs: &[Job<'_>]) -> anyhow::Result<Vec<bool>>;
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
    /// The outbox, inbox, dead letters and ping of the job database.
    fn plumbing(&self) -> Arc<dyn Plumbing>;
}

impl std::fmt::Debug for dyn JobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JobStore")
    }
}
