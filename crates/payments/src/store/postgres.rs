//! Payments in the distributed mode's PostgreSQL database.

use std::sync::Arc;

use anyhow::Context;
use boxoffice_common::{Id, Money};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::idempotency::IdempotencyKeys;
use boxoffice_platform::idempotency::postgres::PostgresKeys;
use boxoffice_platform::outbox::OutboxStore;
use boxoffice_platform::outbox::postgres::{self as outbox, PostgresOutbox};
use sqlx::postgres::{PgPool, PgRow};
use sqlx::{PgConnection, Row};
use tokio::sync::Notify;

use super::{
    Change, Decision, Modified, PaymentStore, ReplicaOutcome, Trigger, is_unique_violation,
};
use crate::domain::{OrderReplica, OrderState, Payment, PaymentStatus};

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

const PAYMENT_COLUMNS: &str = "SELECT id, order_id, user_id, amount, currency, status, provider_id, client_secret, failure, created_at FROM payments";

fn read_payment(row: &PgRow) -> anyhow::Result<Payment> {
    let status: String = row.try_get("status")?;
    Ok(Payment {
        id: row.try_get("id")?,
        order_id: row.try_get("order_id")?,
        user_id: row.try_get("user_id")?,
        amount: Money::from_minor(row.try_get("amount")?),
        currency: row.try_get("currency")?,
        status: PaymentStatus::parse(&status).context("stored status")?,
        provider_id: row.try_get("provider_id")?,
        client_secret: row.try_get("client_secret")?,
        failure: row.try_get("failure")?,
        created_at: row.try_get("created_at")?,
    })
}

async fn load_order(conn: &mut PgConnection, id: Id) -> anyhow::Result<Option<OrderReplica>> {
    let row = sqlx::query("SELECT id, user_id, amount, state, version FROM orders WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.map(|row| {
        let state: String = row.try_get("state")?;
        Ok(OrderReplica {
            id: row.try_get("id")?,
            user_id: row.try_get("user_id")?,
            amount: Money::from_minor(row.try_get("amount")?),
            state: OrderState::parse(&state).context("stored state")?,
            version: row.try_get("version")?,
        })
    })
    .transpose()
}

async fn load_payment(
    conn: &mut PgConnection,
    filter: &'static str,
    value: &str,
    lock: bool,
) -> anyhow::Result<Option<Payment>> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{PAYMENT_COLUMNS} WHERE {filter}{lock}"
    )))
    .bind(value)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(read_payment).transpose()
}

async fn record_webhook_in(conn: &mut PgConnection, event_id: &str) -> anyhow::Result<bool> {
    let result = sqlx::query(
        "INSERT INTO webhook_events (id, received_at) VALUES ($1, now()) ON CONFLICT DO NOTHING",
    )
    .bind(event_id)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

#[async_trait::async_trait]
impl PaymentStore for PostgresPaymentStore {
    async fn order(&self, id: Id) -> anyhow::Result<Option<OrderReplica>> {
        let mut conn = self.pool.acquire().await?;
        load_order(&mut conn, id).await
    }

    async fn apply_order(
        &self,
        consumer: &str,
        event_id: Id,
        replica: &OrderReplica,
    ) -> anyhow::Result<ReplicaOutcome> {
        let mut tx = self.pool.begin().await?;
        if !outbox::claim(&mut tx, consumer, event_id).await? {
            return Ok(ReplicaOutcome::Duplicate);
        }
        let written = sqlx::query(
            "INSERT INTO orders (id, user_id, amount, state, version) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (id) DO UPDATE SET state = excluded.state, version = excluded.version \
             WHERE excluded.version > orders.version",
        )
        .bind(replica.id)
        .bind(replica.user_id)
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
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO payments (id, order_id, user_id, amount, currency, status, provider_id, client_secret, failure, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(payment.id)
        .bind(payment.order_id)
        .bind(payment.user_id)
        .bind(payment.amount.minor())
        .bind(&payment.currency)
        .bind(payment.status.as_str())
        .bind(&payment.provider_id)
        .bind(&payment.client_secret)
        .bind(&payment.failure)
        .bind(payment.created_at)
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
        let mut conn = self.pool.acquire().await?;
        load_payment(&mut conn, "id = $1::uuid", &id.to_string(), false).await
    }

    async fn payment_by_provider(&self, provider_id: &str) -> anyhow::Result<Option<Payment>> {
        let mut conn = self.pool.acquire().await?;
        load_payment(&mut conn, "provider_id = $1", provider_id, false).await
    }

    async fn active_payment(&self, order_id: Id) -> anyhow::Result<Option<Payment>> {
        let mut conn = self.pool.acquire().await?;
        load_payment(
            &mut conn,
            "order_id = $1::uuid AND status IN ('processing', 'requires_action', 'succeeded')",
            &order_id.to_string(),
            false,
        )
        .await
    }

    async fn refunding(&self, limit: u32) -> anyhow::Result<Vec<Payment>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{PAYMENT_COLUMNS} WHERE status = 'refunding' ORDER BY created_at LIMIT $1"
        )))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(read_payment).collect()
    }

    async fn update_payment(
        &self,
        id: Id,
        trigger: Trigger<'_>,
        change: Change,
    ) -> anyhow::Result<Modified> {
        let mut tx = self.pool.begin().await?;
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
        let Some(mut payment) =
            load_payment(&mut tx, "id = $1::uuid", &id.to_string(), true).await?
        else {
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
        sqlx::query("UPDATE payments SET status = $1, provider_id = $2, client_secret = $3, failure = $4 WHERE id = $5")
            .bind(payment.status.as_str())
            .bind(&payment.provider_id)
            .bind(&payment.client_secret)
            .bind(&payment.failure)
            .bind(payment.id)
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
        let mut conn = self.pool.acquire().await?;
        record_webhook_in(&mut conn, event_id).await
    }

    fn idempotency(&self) -> Arc<dyn IdempotencyKeys> {
        Arc::new(PostgresKeys::new(self.pool.clone()))
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
