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
use sqlx::{PgConnection, PgPool, Postgres};
use time::OffsetDateTime;
use tokio::sync::Notify;

use super::sql::{self, entity};
use super::{
    Claim, Decision, Edit, Modified, PaymentKey, PaymentStore, Plumbing, ReplicaOutcome, Target,
    Trigger,
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

/// Applies one edit inside the open transaction `conn`, the payment locked until it
/// ends: what [`PaymentStore::modify_all`] does for each, the commit left to it. The
/// second value says whether events were written to the outbox.
async fn apply_edit(
    conn: &mut PgConnection,
    edit: Edit<'_>,
) -> anyhow::Result<(Modified<Payment, PaymentError>, bool)> {
    let fresh = match edit.trigger {
        Trigger::Request => true,
        Trigger::Event(claim) => outbox::claim(conn, claim.consumer, claim.event_id).await?,
        Trigger::Webhook { event_id } => {
            let at = OffsetDateTime::now_utc();
            let recorded = Bind::record_webhook(event_id, at)
                .execute(&mut *conn)
                .await?;
            recorded.rows_affected() == 1
        }
    };
    if !fresh {
        return Ok((Modified::Duplicate, false));
    }
    let (payment, order) = match edit.target {
        Target::Payment(id) => {
            let locked =
                sqlx::query_as::<_, sql::PaymentRow>(sql::PAYMENT_BY_ID_FOR_UPDATE).bind(DbId(id));
            let Some(payment) = entity::<_, Payment>(locked.fetch_optional(&mut *conn).await?)?
            else {
                return Ok((Modified::Missing, false));
            };
            let order = entity(
                Bind::order(payment.order_id)
                    .fetch_optional(&mut *conn)
                    .await?,
            )?;
            (payment, order)
        }
        Target::ActiveFor(replica) => {
            Bind::save_order(replica)
                .execute(&mut *conn)
                .await
                .context("saving order replica")?;
            let active = sqlx::query_as::<_, sql::PaymentRow>(sql::ACTIVE_PAYMENT_FOR_UPDATE)
                .bind(DbId(replica.id));
            let Some(payment) = entity::<_, Payment>(active.fetch_optional(&mut *conn).await?)?
            else {
                return Ok((Modified::Missing, false));
            };
            (payment, Some(replica.clone()))
        }
    };
    let mut payment = payment;
    let events = match (edit.change)(&mut payment, order.as_ref()) {
        Err(refusal) => return Ok((Modified::Refused(refusal), false)),
        Ok(Decision::Keep) => return Ok((Modified::Unchanged(payment), false)),
        Ok(Decision::Save(events)) => events,
    };
    Bind::update_payment(&payment)
        .execute(&mut *conn)
        .await
        .context("saving payment")?;
    // A request on another replica may wait for this payment's decision: tell every
    // replica on commit (they hold one LISTEN connection each). Only for the moves a
    // waiting request ends on — NOTIFY serialises commits for a moment.
    if payment.is_decided() {
        boxoffice_platform::fresh::postgres::announce(conn, payment.id).await?;
    }
    for event in &events {
        outbox::enqueue(conn, event).await?;
    }
    Ok((Modified::Saved(payment), !events.is_empty()))
}

#[async_trait::async_trait]
impl PaymentStore for PostgresPaymentStore {
    async fn order(&self, id: Id) -> anyhow::Result<Option<OrderReplica>> {
        entity(Bind::order(id).fetch_optional(&self.pool).await?)
    }

    async fn apply_orders(
        &self,
        replicas: &[(Claim<'_>, OrderReplica)],
    ) -> anyhow::Result<Vec<ReplicaOutcome>> {
        let mut tx = self.pool.begin().await?;
        let mut outcomes = Vec::with_capacity(replicas.len());
        for (claim, replica) in replicas {
            if !outbox::claim(&mut tx, claim.consumer, claim.event_id).await? {
                outcomes.push(ReplicaOutcome::Duplicate);
                continue;
            }
            let written = Bind::save_order(replica)
                .execute(&mut *tx)
                .await
                .context("saving order replica")?;
            if replica.version == 0 && written.rows_affected() == 1 {
                // A new order: wake requests on every replica that wait for it, on
                // commit. Only for new rows — NOTIFY serialises commits for a moment.
                boxoffice_platform::fresh::postgres::announce(&mut tx, replica.id).await?;
            }
            outcomes.push(sql::replica_outcome(written.rows_affected()));
        }
        tx.commit().await?;
        Ok(outcomes)
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

    async fn modify_all(
        &self,
        edits: Vec<Edit<'_>>,
    ) -> anyhow::Result<Vec<Modified<Payment, PaymentError>>> {
        let tx = self.pool.begin().await?;
        let (outcomes, wrote_events) =
            boxoffice_platform::apply_edits!(tx, edits, |conn, edit| apply_edit(conn, edit))?;
        if wrote_events {
            self.outbox_written.notify_one();
        }
        Ok(outcomes)
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
