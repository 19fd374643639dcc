//! Payments in the embedded mode's SQLite file: reads on the reader pool, every write
//! transaction on the one writer, started with `BEGIN IMMEDIATE` so a read-then-write
//! never fails with a busy snapshot.

use std::sync::Arc;

use anyhow::Context;
use boxoffice_common::Id;
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::db::sqlite::SqliteDb;
use boxoffice_platform::idempotency::IdempotencyKeys;
use boxoffice_platform::idempotency::sqlite::SqliteKeys;
use boxoffice_platform::outbox::sqlite as outbox;
use sqlx::Sqlite;
use time::OffsetDateTime;
use tokio::sync::Notify;

use super::sql::{self, entity};
use super::{
    Change, Claim, Decision, Modified, PaymentKey, PaymentStore, Plumbing, ReplicaOutcome, Trigger,
};
use crate::domain::{OrderReplica, Payment, PaymentError};

type Bind = sql::Bind<Sqlite>;

#[derive(Debug, Clone)]
pub struct SqlitePaymentStore {
    db: SqliteDb,
    outbox_written: Arc<Notify>,
}

impl SqlitePaymentStore {
    pub async fn open(db: SqliteDb, outbox_written: Arc<Notify>) -> anyhow::Result<Self> {
        sqlx::migrate!("migrations/sqlite")
            .run(&db.writer)
            .await
            .context("migrating the payments SQLite database")?;
        Ok(Self { db, outbox_written })
    }
}

impl SqlitePaymentStore {
    /// Lets `change` decide about `payment` (read in `tx`, with its order as known here)
    /// and saves what it decided with its events, ending `tx`. A refusal drops the
    /// transaction: nothing is written, not even the claim.
    async fn save(
        &self,
        mut tx: sqlx::Transaction<'static, Sqlite>,
        mut payment: Payment,
        order: Option<&OrderReplica>,
        change: Change,
    ) -> anyhow::Result<Modified<Payment, PaymentError>> {
        let events = match change(&mut payment, order) {
            Err(refusal) => return Ok(Modified::Refused(refusal)),
            Ok(Decision::Keep) => {
                tx.commit().await?;
                return Ok(Modified::Unchanged(payment));
            }
            Ok(Decision::Save(events)) => events,
        };
        Bind::update_payment(&payment)
            .execute(&mut *tx)
            .await
            .context("saving payment")?;
        for event in &events {
            outbox::enqueue(&mut tx, event).await?;
        }
        tx.commit().await?;
        if !events.is_empty() {
            self.outbox_written.notify_one();
        }
        Ok(Modified::Saved(payment))
    }
}

#[async_trait::async_trait]
impl PaymentStore for SqlitePaymentStore {
    async fn order(&self, id: Id) -> anyhow::Result<Option<OrderReplica>> {
        entity(Bind::order(id).fetch_optional(&self.db.reader).await?)
    }

    async fn apply_order(
        &self,
        claim: Claim<'_>,
        replica: &OrderReplica,
    ) -> anyhow::Result<ReplicaOutcome> {
        let mut tx = self.db.begin_write().await?;
        if !outbox::claim(&mut tx, claim.consumer, claim.event_id).await? {
            return Ok(ReplicaOutcome::Duplicate);
        }
        let written = Bind::save_order(replica)
            .execute(&mut *tx)
            .await
            .context("saving order replica")?;
        tx.commit().await?;
        Ok(sql::replica_outcome(written.rows_affected()))
    }

    async fn insert_payment(&self, payment: &Payment, events: &[Envelope]) -> anyhow::Result<bool> {
        let mut tx = self.db.begin_write().await?;
        if !sql::inserted(Bind::insert_payment(payment).execute(&mut *tx).await)? {
            return Ok(false);
        }
        for event in events {
            outbox::enqueue(&mut tx, event).await?;
        }
        tx.commit().await?;
        if !events.is_empty() {
            self.outbox_written.notify_one();
        }
        Ok(true)
    }

    async fn payment(&self, key: PaymentKey<'_>) -> anyhow::Result<Option<Payment>> {
        entity(Bind::payment(key).fetch_optional(&self.db.reader).await?)
    }

    async fn unfinished(&self, offset: u32, limit: u32) -> anyhow::Result<Vec<Payment>> {
        let rows = Bind::unfinished(offset, limit)
            .fetch_all(&self.db.reader)
            .await?;
        rows.into_iter().map(Payment::try_from).collect()
    }

    async fn modify(
        &self,
        id: Id,
        trigger: Trigger<'_>,
        change: Change,
    ) -> anyhow::Result<Modified<Payment, PaymentError>> {
        let mut tx = self.db.begin_write().await?;
        let fresh = match trigger {
            Trigger::Request => true,
            Trigger::Event(claim) => outbox::claim(&mut tx, claim.consumer, claim.event_id).await?,
            Trigger::Webhook { event_id } => {
                let at = OffsetDateTime::now_utc();
                let recorded = Bind::record_webhook(event_id, at).execute(&mut *tx).await?;
                recorded.rows_affected() == 1
            }
        };
        if !fresh {
            return Ok(Modified::Duplicate);
        }
        let Some(payment) = entity::<_, Payment>(
            Bind::payment(PaymentKey::Id(id))
                .fetch_optional(&mut *tx)
                .await?,
        )?
        else {
            tx.commit().await?;
            return Ok(Modified::Missing);
        };
        let order = entity(
            Bind::order(payment.order_id)
                .fetch_optional(&mut *tx)
                .await?,
        )?;
        self.save(tx, payment, order.as_ref(), change).await
    }

    async fn decide_for_order(
        &self,
        claim: Claim<'_>,
        replica: &OrderReplica,
        change: Change,
    ) -> anyhow::Result<Modified<Payment, PaymentError>> {
        let mut tx = self.db.begin_write().await?;
        if !outbox::claim(&mut tx, claim.consumer, claim.event_id).await? {
            return Ok(Modified::Duplicate);
        }
        Bind::save_order(replica)
            .execute(&mut *tx)
            .await
            .context("saving order replica")?;
        let active = Bind::payment(PaymentKey::ActiveForOrder(replica.id));
        let Some(payment) = entity::<_, Payment>(active.fetch_optional(&mut *tx).await?)? else {
            tx.commit().await?;
            return Ok(Modified::Missing);
        };
        self.save(tx, payment, Some(replica), change).await
    }

    async fn record_webhook(&self, event_id: &str) -> anyhow::Result<bool> {
        let mut tx = self.db.begin_write().await?;
        let at = OffsetDateTime::now_utc();
        let recorded = Bind::record_webhook(event_id, at).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(recorded.rows_affected() == 1)
    }

    fn idempotency(&self) -> Arc<dyn IdempotencyKeys> {
        Arc::new(SqliteKeys::new(self.db.clone()))
    }

    fn plumbing(&self) -> Arc<dyn Plumbing> {
        Arc::new(self.db.clone())
    }
}
