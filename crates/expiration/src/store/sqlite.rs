//! Scheduled jobs in the embedded mode's SQLite file.

use std::sync::Arc;

use anyhow::Context;
use boxoffice_common::Id;
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::db::sqlite::{SqliteDb, now_text, parse_time, time_text};
use boxoffice_platform::outbox::OutboxStore;
use boxoffice_platform::outbox::sqlite::{self as outbox, SqliteOutbox};
use sqlx::Row;
use time::OffsetDateTime;
use tokio::sync::Notify;

use super::{EventFor, JobStore};

#[derive(Debug, Clone)]
pub struct SqliteJobStore {
    db: SqliteDb,
    outbox_written: Arc<Notify>,
}

impl SqliteJobStore {
    pub async fn open(db: SqliteDb, outbox_written: Arc<Notify>) -> anyhow::Result<Self> {
        sqlx::migrate!("migrations/sqlite")
            .run(&db.writer)
            .await
            .context("migrating the expiration SQLite database")?;
        Ok(Self { db, outbox_written })
    }
}

#[async_trait::async_trait]
impl JobStore for SqliteJobStore {
    async fn schedule(
        &self,
        consumer: &str,
        event_id: Id,
        order_id: Id,
        due_at: OffsetDateTime,
    ) -> anyhow::Result<bool> {
        let mut tx = self.db.begin_write().await?;
        if !outbox::claim(&mut tx, consumer, event_id).await? {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO scheduled_job (order_id, due_at, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(order_id.to_string())
        .bind(time_text(due_at))
        .bind(now_text())
        .execute(&mut *tx)
        .await
        .context("scheduling job")?;
        tx.commit().await?;
        Ok(true)
    }

    async fn next_due(&self) -> anyhow::Result<Option<OffsetDateTime>> {
        let due: Option<String> = sqlx::query("SELECT MIN(due_at) FROM scheduled_job")
            .fetch_one(&self.db.reader)
            .await?
            .try_get(0)?;
        due.as_deref().map(parse_time).transpose()
    }

    async fn fire_due(
        &self,
        now: OffsetDateTime,
        limit: u32,
        event_for: EventFor<'_>,
    ) -> anyhow::Result<Vec<Id>> {
        // The single writer connection and BEGIN IMMEDIATE make the take atomic.
        let mut tx = self.db.begin_write().await?;
        let rows = sqlx::query("DELETE FROM scheduled_job WHERE rowid IN (SELECT rowid FROM scheduled_job WHERE due_at <= ? ORDER BY due_at LIMIT ?) RETURNING order_id")
            .bind(time_text(now))
            .bind(limit)
            .fetch_all(&mut *tx)
            .await
            .context("taking due jobs")?;
        let mut fired = Vec::with_capacity(rows.len());
        for row in rows {
            let order_id: String = row.try_get(0)?;
            let order_id: Id = order_id.parse()?;
            outbox::enqueue(&mut tx, &event_for(order_id)).await?;
            fired.push(order_id);
        }
        tx.commit().await?;
        if !fired.is_empty() {
            self.outbox_written.notify_one();
        }
        Ok(fired)
    }

    async fn pending(&self) -> anyhow::Result<u64> {
        let count: i64 = sqlx::query("SELECT COUNT(*) FROM scheduled_job")
            .fetch_one(&self.db.reader)
            .await?
            .try_get(0)?;
        Ok(u64::try_from(count).unwrap_or_default())
    }

    async fn park(&self, consumer: &str, event: &Envelope, reason: &str) -> anyhow::Result<()> {
        outbox::park(&self.db, consumer, event, reason).await
    }

    fn outbox(&self) -> Arc<dyn OutboxStore> {
        Arc::new(SqliteOutbox::new(self.db.clone()))
    }

    async fn ping(&self) -> anyhow::Result<()> {
        Ok(self.db.ping().await?)
    }
}
