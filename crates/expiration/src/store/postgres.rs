//! Scheduled jobs in the distributed mode's PostgreSQL database.

use std::sync::Arc;

use anyhow::Context;
use boxoffice_common::Id;
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::outbox::OutboxStore;
use boxoffice_platform::outbox::postgres::{self as outbox, PostgresOutbox};
use sqlx::Row;
use sqlx::postgres::PgPool;
use time::OffsetDateTime;
use tokio::sync::Notify;

use super::{EventFor, JobStore};

#[derive(Debug, Clone)]
pub struct PostgresJobStore {
    pool: PgPool,
    outbox_written: Arc<Notify>,
}

impl PostgresJobStore {
    pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
        sqlx::migrate!("migrations/postgres")
            .run(pool)
            .await
            .context("migrating the expiration PostgreSQL database")
    }

    pub async fn open(pool: PgPool, outbox_written: Arc<Notify>) -> anyhow::Result<Self> {
        Self::migrate(&pool).await?;
        Ok(Self {
            pool,
            outbox_written,
        })
    }
}

#[async_trait::async_trait]
impl JobStore for PostgresJobStore {
    async fn schedule(
        &self,
        consumer: &str,
        event_id: Id,
        order_id: Id,
        due_at: OffsetDateTime,
    ) -> anyhow::Result<bool> {
        let mut tx = self.pool.begin().await?;
        if !outbox::claim(&mut tx, consumer, event_id).await? {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO scheduled_job (order_id, due_at, created_at) VALUES ($1, $2, now()) ON CONFLICT DO NOTHING",
        )
        .bind(order_id)
        .bind(due_at)
        .execute(&mut *tx)
        .await
        .context("scheduling job")?;
        tx.commit().await?;
        Ok(true)
    }

    async fn next_due(&self) -> anyhow::Result<Option<OffsetDateTime>> {
        Ok(sqlx::query("SELECT MIN(due_at) FROM scheduled_job")
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?)
    }

    async fn fire_due(
        &self,
        now: OffsetDateTime,
        limit: u32,
        event_for: EventFor<'_>,
    ) -> anyhow::Result<Vec<Id>> {
        let mut tx = self.pool.begin().await?;
        // SKIP LOCKED: replicas firing at the same moment each take different jobs.
        let rows = sqlx::query(
            "DELETE FROM scheduled_job WHERE (order_id, due_at) IN (\
                SELECT order_id, due_at FROM scheduled_job WHERE due_at <= $1 ORDER BY due_at LIMIT $2 \
                FOR UPDATE SKIP LOCKED) RETURNING order_id",
        )
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .context("taking due jobs")?;
        let mut fired = Vec::with_capacity(rows.len());
        for row in rows {
            let order_id: Id = row.try_get(0)?;
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
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        Ok(u64::try_from(count).unwrap_or_default())
    }

    async fn park(&self, consumer: &str, event: &Envelope, reason: &str) -> anyhow::Result<()> {
        outbox::park(&self.pool, consumer, event, reason).await
    }

    fn outbox(&self) -> Arc<dyn OutboxStore> {
        Arc::new(PostgresOutbox::new(self.pool.clone()))
    }

    async fn ping(&self) -> anyhow::Result<()> {
        Ok(boxoffice_platform::db::postgres::ping(&self.pool).await?)
    }
}
