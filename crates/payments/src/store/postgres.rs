//! Payments in the distributed mode's PostgreSQL database: the payment a change reads is
//! locked (`FOR UPDATE`) until its transaction ends, so concurrent changes queue up.

use std::sync::Arc;

use anyhow::Context;
use boxoffice_common::Id;
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::db::DbId;
use boxoffice_platform::idempotency::IdempotencyKeys;
use boxoffice_platform::idempotency::postgres::PostgresKeys;
use boxoffice_platform::outbox::postgres as outbox;
use sqlx::{PgPool, Postgres};
use time::OffsetDateTime;
use tokio::sync::Notify;

use super::sql::{self, entity};
use super::{
    Change, Claim, Decision, Modified, PaymentKey, PaymentStore, Plumbing, ReplicaOutcome, Trigger,
};
use crate::domain::{OrderReplica, Payment, PaymentError};

type Bind = sql::Bind<Postgres>;

#[derive(Debug, Clone)]
pub struct PostgresPaymentStore {
    pool: PgPool,
    outbox_written: Arc<Notify>,
}

impl PostgresPaymentStore {
    pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
        sqlx::migrate!("migrations/postgres")
            .run(pool)
            .await
            .context("migrating the payments PostgreSQL database")
    }

    pub async fn open(pool: PgPool, outbox_written: Arc<Notify>) -> anyhow::Result<Self> {
        Self::migrate(&pool).await?;
        Ok(Self {
            pool,
            outbox_written,
        })
    }
}

impl PostgresPaymentStore {
    /// Lets `change` decide about `payment` (read in `tx`, with its order as known here)
    /// and saves what it decided with its events, ending `tx`. A refusal drops the
    /// transaction: nothing is written, not even the claim.
    async fn save(
        &self,
        mut tx: sqlx::Transaction<'static, Postgres>,
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
        // A request on another replica may wait for this payment's decision: tell every
        // replica on commit (they hold one LISTEN connection each). Only for the moves a
        // waiting request ends on — NOTIFY serialises commits for a moment.
        if payment.is_decided() {
            boxoffice_platform::fresh::postgres::announce(&mut tx, payment.id).await?;
        }
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
impl PaymentStore for PostgresPaymentStore {
    async fn order(&self, id: Id) -> anyhow::Result<Option<OrderReplica>> {
        entity(Bind::order(id).fetch_optional(&self.pool).await?)
    }

    async fn apply_order(
        &self,
        claim: Claim<'_>,
        replica: &OrderReplica,
    ) -> anyhow::Result<ReplicaOutcome> {
        let mut tx = self.pool.begin().await?;
        if !outbox::claim(&mut tx, claim.consumer, claim.event_id).await? {
            return Ok(ReplicaOutcome::Duplicate);
        }
        let written = Bind::save_order(replica)
            .execute(&mut *tx)
            .await
            .context("saving order replica")?;
        if replica.version == 0 && written.rows_affected() == 1 {
            // A new order: wake requests on every replica that wait for it, on commit.
            // Only for new rows — NOTIFY serialises commits for a moment.
            boxoffice_platform::fresh::postgres::announce(&mut tx, replica.id).await?;
        }
        tx.commit().await?;
        Ok(sql::replica_outcome(written.rows_affected()))
    }

    async fn insert_payment(&self, payment: &Payment, events: &[Envelope]) -> anyhow::Result<bool> {
        let mut tx = self.pool.begin().await?;
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
        entity(Bind::payment(key).fetch_optional(&self.pool).await?)
    }

    async fn unfinished(&self, offset: u32, limit: u32) -> anyhow::Result<Vec<Payment>> {
        let rows = Bind::unfinished(offset, limit)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(Payment::try_from).collect()
    }

    async fn modify(
        &self,
        id: Id,
        trigger: Trigger<'_>,
        change: Change,
    ) -> anyhow::Result<Modified<Payment, PaymentError>> {
        let mut tx = self.pool.begin().await?;
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
        let locked =
            sqlx::query_as::<_, sql::PaymentRow>(sql::PAYMENT_BY_ID_FOR_UPDATE).bind(DbId(id));
        let Some(payment) = entity::<_, Payment>(locked.fetch_optional(&mut *tx).await?)? else {
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
        let mut tx = self.pool.begin().await?;
        if !outbox::claim(&mut tx, claim.consumer, claim.event_id).await? {
            return Ok(Modified::Duplicate);
        }
        Bind::save_order(replica)
            .execute(&mut *tx)
            .await
            .context("saving order replica")?;
        let active = sqlx::query_as::<_, sql::PaymentRow>(sql::ACTIVE_PAYMENT_FOR_UPDATE)
            .bind(DbId(replica.id));
        let Some(payment) = entity::<_, Payment>(active.fetch_optional(&mut *tx).await?)? else {
            tx.commit().await?;
            return Ok(Modified::Missing);
        };
        self.save(tx, payment, Some(replica), change).await
    }

    async fn record_webhook(&self, event_id: &str) -> anyhow::Result<bool> {
        let at = OffsetDateTime::now_utc();
        let recorded = Bind::record_webhook(event_id, at)
            .execute(&self.pool)
            .await?;
        Ok(recorded.rows_affected() == 1)
    }

    fn idempotency(&self) -> Arc<dyn IdempotencyKeys> {
        Arc::new(PostgresKeys::new(self.pool.clone()))
    }

    fn plumbing(&self) -> Arc<dyn Plumbing> {
        Arc::new(self.pool.clone())
    }
}
