//! The transactional outbox, the inbox and the dead-letter table.
//!
//! * **Outbox.** A use-case writes its state change and the events it causes in one
//!   transaction ([`sqlite::enqueue`], [`postgres::enqueue`]). The [`Relay`] publishes the
//!   rows afterwards — woken right after the commit, with a slow poll as a fallback — and
//!   marks a row sent only when the bus has taken responsibility for it. A crash anywhere
//!   leaves unsent rows behind, which the next start publishes: nothing is lost.
//! * **Inbox.** A consumer records the id of each event it applies in the same
//!   transaction as the effect ([`sqlite::claim`], [`postgres::claim`]); a second delivery
//!   finds the id and changes nothing.
//! * **Dead letters.** An event that still cannot be applied after a bounded number of
//!   deliveries is parked with the reason, where an operator can see it.
//!
//! Every service's migrations create the three tables with the same shape.

pub mod postgres;
mod relay;
pub mod sqlite;

use boxoffice_common::Id;
pub use relay::Relay;

use crate::bus::Envelope;

/// An outbox row not yet published: its position and its event.
#[derive(Debug, Clone)]
pub struct Pending {
    pub seq: i64,
    pub event: Envelope,
}

/// Reading and settling a service's outbox.
#[async_trait::async_trait]
pub trait OutboxStore: Send + Sync + 'static {
    /// Unsent rows after position `after`, oldest first.
    async fn unsent_after(&self, after: i64, limit: u32) -> anyhow::Result<Vec<Pending>>;
    /// Whether rows become visible in `seq` order. True for SQLite (one writer commits at a
    /// time); false for PostgreSQL, where a transaction can commit after one that took a
    /// later `seq` — the relay then rescans for rows behind its cursor.
    fn commits_in_seq_order(&self) -> bool {
        false
    }

    /// Marks rows published.
    async fn mark_sent(&self, ids: &[Id]) -> anyhow::Result<()>;
    /// Deletes rows published more than `older_than` ago.
    async fn purge_sent(&self, older_than: std::time::Duration) -> anyhow::Result<u64>;
    /// Marks rows published at or after `since` unsent again, so the relay publishes them
    /// once more — the repair after a broker lost acknowledged writes. Consumers' inboxes
    /// make the copies they already had harmless.
    async fn republish_since(&self, since: time::OffsetDateTime) -> anyhow::Result<u64>;

    /// How many rows wait to be published, and the id of the oldest (a UUIDv7: its age
    /// is known) — for the backlog gauges the relay keeps.
    async fn backlog(&self) -> anyhow::Result<(u64, Option<Id>)>;
}

/// [`OutboxStore::backlog`] in SQL, the same text on both databases: both counts run on
/// the partial index of unsent rows.
const BACKLOG_SQL: &str = "SELECT (SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL) AS pending, \
     (SELECT id FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT 1) AS oldest";
