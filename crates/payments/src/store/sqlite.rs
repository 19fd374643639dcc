//! Payments in the embedded mode's SQLite file.

use std::sync::Arc;

use anyhow::Context;
use boxoffice_common::{Id, Money};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::db::sqlite::{SqliteDb, now_text, parse_time, time_text};
use boxoffice_platform::idempotency::IdempotencyKeys;
use boxoffice_platform::idempotency::sqlite::SqliteKeys;
use boxoffice_platform::outbox::OutboxStore;
use boxoffice_platform::outbox::sqlite::{self as outbox, SqliteOutbox};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use tokio::sync::Notify;

use super::{
    Change, Decision, Modified, PaymentStore, ReplicaOutcome, Trigger, is_unique_violation,
};
use crate::domain::{OrderReplica, OrderState, Payment, PaymentStatus};

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

const PAYMENT_COLUMNS: &str = "SELECT id, order_id, user_id, amount, currency, status, provider_id, client_secret, failure, created_at FROM payments";

fn read_payment(row: &SqliteRow) -> anyhow::Result<Payment> {
    let id: String = row.try_get("id")?;
    let order_id: String = row.try_get("order_id")?;
    let user_id: String = row.try_get("user_id")?;
    let status: String = row.try_get("status")?;
    let created_at: String = row.try_get("created_at")?;
    Ok(Payment {
        id: id.parse()?,
        order_id: order_id.parse()?,
        user_id: user_id.parse()?,
        amount: Money::from_minor(row.try_get("amount")?),
        currency: row.try_get("currency")?,
        status: PaymentStatus::parse(&status).context("stored status")?,
        provider_id: row.try_get("provider_id")?,
        client_secret: row.try_get("client_secret")?,
        failure: row.try_get("failure")?,
        created_at: parse_time(&created_at)?,
    })
}

async fn load_order(conn: &mut SqliteConnection, id: Id) -> anyhow::Result<Option<OrderReplica>> {
    let row = sqlx::query("SELECT id, user_id, amount, state, version FROM orders WHERE id = ?")
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    row.map(|row| {
        let id: String = row.try_get("id")?;
        let user_id: String = row.try_get("user_id")?;
        let state: String = row.try_get("state")?;
        Ok(OrderReplica {
            id: id.parse()?,
            user_id: user_id.parse()?,
            amount: Money::from_minor(row.try_get("amount")?),
            state: OrderState::parse(&state).context("stored state")?,
            version: row.try_get("version")?,
        })
    })
    .transpose()
}

async fn load_payment(
    conn: &mut SqliteConnection,
    filter: &'static str,
    value: String,
) -> anyhow::Result<Option<Payment>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{PAYMENT_COLUMNS} WHERE {filter}"
    )))
    .bind(value)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(read_payment).transpose()
}

/// Records a webhook event id; `false` if it was recorded before.
async fn record_webhook_in(conn: &mut SqliteConnection, event_id: &str) -> anyhow::Result<bool> {
    let result = sqlx::query(
        "INSERT INTO webhook_events (id, received_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
    )
    .bind(event_id)
    .bind(now_text())
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

#[async_trait::async_trait]
impl PaymentStore for SqlitePaymentStore {
    async fn order(&self, id: Id) -> anyhow::Result<Option<OrderReplica>> {
        let mut conn = self.db.reader.acquire().await?;
        load_order(&mut conn, id).await
    }

    async fn apply_order(
        &self,
        consumer: &str,
        event_id: Id,
        replica: &OrderReplica,
    ) -> anyhow::Result<ReplicaOutcome> {
        let mut tx = self.db.begin_write().await?;
        if !outbox::claim(&mut tx, consumer, event_id).await? {
            return Ok(ReplicaOutcome::Duplicate);
        }
        let written = sqlx::query(
            "INSERT INTO orders (id, user_id, amount, state, version) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (id) DO UPDATE SET state = excluded.state, version = excluded.version \
             WHERE excluded.version > orders.version",
        )
        .bind(replica.id.to_string())
        .bind(replica.user_id.to_string())
        .bind(replica.amount.minor())
        .bind(replica.state.as_str())
        .bind(replica.version)
        .execute(&mut *tx)
        .await
        .context("saving order replica")?;
        tx.commit().await?;
        Ok(if written.rows_affected() == 1 {
            ReplicaOutcome::Applied
        } else {
            ReplicaOutcome::Stale
        })
    }

    async fn insert_payment(&self, payment: &Payment, events: &[Envelope]) -> anyhow::Result<bool> {
        let mut tx = self.db.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO payments (id, order_id, user_id, amount, currency, status, provider_id, client_secret, failure, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(payment.id.to_string())
        .bind(payment.order_id.to_string())
        .bind(payment.user_id.to_string())
        .bind(payment.amount.minor())
        .bind(&payment.currency)
        .bind(payment.status.as_str())
        .bind(&payment.provider_id)
        .bind(&payment.client_secret)
        .bind(&payment.failure)
        .bind(time_text(payment.created_at))
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(err) if is_unique_violation(&err) => return Ok(false),
            Err(err) => return Err(anyhow::Error::new(err).context("inserting payment")),
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

    async fn payment(&self, id: Id) -> anyhow::Result<Option<Payment>> {
        let mut conn = self.db.reader.acquire().await?;
        load_payment(&mut conn, "id = ?", id.to_string()).await
    }

    async fn payment_by_provider(&self, provider_id: &str) -> anyhow::Result<Option<Payment>> {
        let mut conn = self.db.reader.acquire().await?;
        load_payment(&mut conn, "provider_id = ?", provider_id.to_owned()).await
    }

    async fn active_payment(&self, order_id: Id) -> anyhow::Result<Option<Payment>> {
        let mut conn = self.db.reader.acquire().await?;
        load_payment(
            &mut conn,
            "order_id = ? AND status IN ('processing', 'requires_action', 'succeeded')",
            order_id.to_string(),
        )
        .await
    }

    async fn refunding(&self, limit: u32) -> anyhow::Result<Vec<Payment>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{PAYMENT_COLUMNS} WHERE status = 'refunding' ORDER BY created_at LIMIT ?"
        )))
        .bind(i64::from(limit))
        .fetch_all(&self.db.reader)
        .await?;
        rows.iter().map(read_payment).collect()
    }

    async fn update_payment(
        &self,
        id: Id,
        trigger: Trigger<'_>,
        change: Change,
    ) -> anyhow::Result<Modified> {
        let mut tx = self.db.begin_write().await?;
        let fresh = match trigger {
            Trigger::Request => true,
            Trigger::Event { consumer, event_id } => {
                outbox::claim(&mut tx, consumer, event_id).await?
            }
            Trigger::Webhook { event_id } => record_webhook_in(&mut tx, event_id).await?,
        };
        if !fresh {
            return Ok(Modified::Duplicate);
        }
        let Some(mut payment) = load_payment(&mut tx, "id = ?", id.to_string()).await? else {
            tx.commit().await?;
            return Ok(Modified::Missing);
        };
        let order = load_order(&mut tx, payment.order_id).await?;
        let events = match change(&mut payment, order.as_ref()) {
            Decision::Keep => {
                tx.commit().await?;
                return Ok(Modified::Unchanged(payment));
            }
            Decision::Save(events) => events,
        };
        sqlx::query("UPDATE payments SET status = ?, provider_id = ?, client_secret = ?, failure = ? WHERE id = ?")
            .bind(payment.status.as_str())
            .bind(&payment.provider_id)
            .bind(&payment.client_secret)
            .bind(&payment.failure)
            .bind(payment.id.to_string())
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

    async fn record_webhook(&self, event_id: &str) -> anyhow::Result<bool> {
        let mut tx = self.db.begin_write().await?;
        let fresh = record_webhook_in(&mut tx, event_id).await?;
        tx.commit().await?;
        Ok(fresh)
    }

    fn idempotency(&self) -> Arc<dyn IdempotencyKeys> {
        Arc::new(SqliteKeys::new(self.db.clone()))
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
