//! Scheduled jobs in the embedded mode's SQLite file.

use std::sync::Arc;

use anyhow::Context;
use boxoffice_common::Id;
use boxoffice_platform::db::sqlite::SqliteDb;
use boxoffice_platform::outbox::sqlite as outbox;
use boxoffice_platform::store::Plumbing;
use time::OffsetDateTime;
use tokio::sync::Notify;

use super::{EventFor, Job, JobStore, sql};

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
    async fn schedule_all(&self, jobs: &[Job<'_>]) -> anyhow::Result<Vec<bool>> {
        let mut tx = self.db.begin_write().await?;
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
        let due = sql::next_due().fetch_one(&self.db.reader).await?;
        Ok(due.map(OffsetDateTime::from))
    }

    async fn fire_due(
        &self,
        now: OffsetDateTime,
        limit: u32,
        event_for: EventFor<'_>,
    ) -> anyhow::Result<Vec<Id>> {
        // The single writer connection and BEGIN IMMEDIATE make the take atomic.
        let mut tx = self.db.begin_write().await?;
        let taken = sql::take_due(sql::TAKE_DUE_SQLITE, now, limit)
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
        let count = sql::pending().fetch_one(&self.db.reader).await?;
        Ok(u64::try_from(count).unwrap_or_default())
    }

    fn plumbing(&self) -> Arc<dyn Plumbing> {
        Arc::new(self.db.clone())
    }
}
