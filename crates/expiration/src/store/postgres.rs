//! Scheduled jobs in the distributed mode's PostgreSQL database.

use std::sync::Arc;

use anyhow::Context;
use boxoffice_common::Id;
use boxoffice_platform::outbox::postgres as outbox;
use boxoffice_platform::store::Plumbing;
use sqlx::postgres::PgPool;
use time::OffsetDateTime;
use tokio::sync::Notify;

use super::{EventFor, Job, JobStore, sql};

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
    async fn schedule_all(&self, jobs: &[Job<'_>]) -> anyhow::Result<Vec<bool>> {
        let mut tx = self.pool.begin().await?;
        let now = OffsetDateTime::now_utc();
        let mut fresh = Vec::with_capacity(jobs.len());
        for job in jobs {
            let claim = job.claim;
            if !outbox::claim(&mut tx, claim.consumer, claim.event_id).await? {
                fresh.push(false);
                continue;
            }
            let scheduled = sql::schedule(job.order_id, job.due_at, now)
                .execute(&mut *tx)
                .await;
            scheduled.context("scheduling job")?;
            fresh.push(true);
        }
        tx.commit().await?;
        Ok(fresh)
    }

    async fn next_due(&self) -> anyhow::Result<Option<OffsetDateTime>> {
        let due = sql::next_due().fetch_one(&self.pool).await?;
        Ok(due.map(OffsetDateTime::from))
    }

    async fn fire_due(
        &self,
        now: OffsetDateTime,
        limit: u32,
        event_for: EventFor<'_>,
    ) -> anyhow::Result<Vec<Id>> {
        let mut tx = self.pool.begin().await?;
        // SKIP LOCKED: replicas firing at the same moment each take different jobs.
        let taken = sql::take_due(sql::TAKE_DUE_POSTGRES, now, limit)
            .fetch_all(&mut *tx)
            .await
            .context("taking due jobs")?;
        let fired: Vec<Id> = taken.into_iter().map(Id::from).collect();
        for &order_id in &fired {
            outbox::enqueue(&mut tx, &event_for(order_id)).await?;
        }
        tx.commit().await?;
        if !fired.is_empty() {
            self.outbox_written.notify_one();
        }
        Ok(fired)
    }

    async fn pending(&self) -> anyhow::Result<u64> {
        let count = sql::pending().fetch_one(&self.pool).await?;
        Ok(u64::try_from(count).unwrap_or_default())
    }

    fn plumbing(&self) -> Arc<dyn Plumbing> {
        Arc::new(self.pool.clone())
    }
}
