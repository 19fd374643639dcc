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
use sqlx::{Sqlite, SqliteConnection};
use time::OffsetDateTime;
use tokio::sync::Notify;

use super::sql::{self, entity};
use super::{
    Claim, Decision, Edit, Modified, PaymentKey, PaymentStore, Plumbing, ReplicaOutcome, Target,
    Trigger,
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

/// Applies one edit inside the open transaction `conn`: what [`PaymentStore::modify_all`]
/// does for each, the commit left to it. The second value says whether events were
/// written to the outbox.
async fn apply_edit(
    conn: &mut SqliteConnection,
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
            let found = Bind::payment(PaymentKey::Id(id))
                .fetch_optional(&mut *conn)
                .await?;
            let Some(payment) = entity::<_, Payment>(found)? else {
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
            let active = Bind::payment(PaymentKey::ActiveForOrder(replica.id));
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
    for event in &events {
        outbox::enqueue(conn, event).await?;
    }
    Ok((Modified::Saved(payment), !events.is_empty()))
}

#[async_trait::async_trait]
impl PaymentStore for SqlitePaymentStore {
    async fn order(&self, id: Id) -> anyhow::Result<Option<OrderReplica>> {
        entity(Bind::order(id).fetch_optional(&self.db.reader).await?)
    }

    async fn apply_orders(
        &self,
        replicas: &[(Claim<'_>, OrderReplica)],
    ) -> anyhow::Result<Vec<ReplicaOutcome>> {
        let mut tx = self.db.begin_write().await?;
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
            outcomes.push(sql::replica_outcome(written.rows_affected()));
        }
        tx.commit().await?;
        Ok(outcomes)
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

    async fn modify_all(
        &self,
        edits: Vec<Edit<'_>>,
    ) -> anyhow::Result<Vec<Modified<Payment, PaymentError>>> {
        let tx = self.db.begin_write().await?;
        let (outcomes, wrote_events) =
            boxoffice_platform::apply_edits!(tx, edits, |conn, edit| apply_edit(conn, edit))?;
        if wrote_events {
            self.outbox_written.notify_one();
        }
        Ok(outcomes)
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
