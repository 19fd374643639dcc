//! Orders and the ticket replica in the distributed mode's PostgreSQL database.

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
    Change, Claim, Decision, Modified, OrderStore, ReplicaChange, ReplicaDecision, ReplicaOutcome,
    is_unique_violation,
};
use crate::domain::{
    CancelReason, LineGate, Order, OrderError, OrderStatus, OrderedTicket, TicketReplica,
};

#[derive(Debug, Clone)]
pub struct PostgresOrderStore {
    pool: PgPool,
    outbox_written: Arc<Notify>,
}

impl PostgresOrderStore {
    /// Brings the schema up to date (safe from several replicas at once).
    pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
        sqlx::migrate!("migrations/postgres")
            .run(pool)
            .await
            .context("migrating the orders PostgreSQL database")
    }

    pub async fn open(pool: PgPool, outbox_written: Arc<Notify>) -> anyhow::Result<Self> {
        Self::migrate(&pool).await?;
        Ok(Self {
            pool,
            outbox_written,
        })
    }
}

fn read_order(row: &PgRow) -> anyhow::Result<Order> {
    let status: String = row.try_get("status")?;
    let reason: Option<String> = row.try_get("cancel_reason")?;
    Ok(Order {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        ticket: OrderedTicket {
            id: row.try_get("ticket_id")?,
            title: row.try_get("ticket_title")?,
            price: Money::from_minor(row.try_get("ticket_price")?),
            version: row.try_get("ticket_version")?,
        },
        status: OrderStatus::parse(&status).context("stored status")?,
        expires_at: row.try_get("expires_at")?,
        hold_until: row
            .try_get::<Option<time::OffsetDateTime>, _>("hold_until")?
            .unwrap_or(row.try_get("expires_at")?),
        version: row.try_get("version")?,
        created_at: row.try_get("created_at")?,
        cancel_reason: reason.as_deref().and_then(CancelReason::parse),
    })
}

fn read_replica(row: &PgRow) -> anyhow::Result<TicketReplica> {
    Ok(TicketReplica {
        id: row.try_get("id")?,
        title: row.try_get("title")?,
        price: Money::from_minor(row.try_get("price")?),
        user_id: row.try_get("user_id")?,
        version: row.try_get("version")?,
        deleted: row.try_get("deleted")?,
    })
}

const ORDER_COLUMNS: &str = "SELECT id, user_id, ticket_id, ticket_title, ticket_price, ticket_version, status, \
     cancel_reason, expires_at, hold_until, version, created_at FROM orders";

async fn load_order(conn: &mut PgConnection, id: Id, lock: bool) -> anyhow::Result<Option<Order>> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{ORDER_COLUMNS} WHERE id = $1{lock}"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(read_order).transpose()
}

#[async_trait::async_trait]
impl OrderStore for PostgresOrderStore {
    async fn ticket(&self, id: Id) -> anyhow::Result<Option<TicketReplica>> {
        let row = sqlx::query(
            "SELECT id, title, price, user_id, version, deleted FROM tickets WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(read_replica).transpose()
    }

    async fn insert(&self, order: &Order, event: &Envelope) -> anyhow::Result<bool> {
        // In a rush most attempts are for a ticket already held: answer those with a read,
        // without a transaction. The unique index below still decides every race.
        let held = sqlx::query(
            "SELECT 1 FROM orders WHERE ticket_id = $1 AND status IN ('created', 'awaiting:payment', 'complete') LIMIT 1",
        )
        .bind(order.ticket.id)
        .fetch_optional(&self.pool)
        .await?;
        if held.is_some() {
            return Ok(false);
        }
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO orders (id, user_id, ticket_id, ticket_title, ticket_price, ticket_version, status, \
             cancel_reason, expires_at, hold_until, version, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(order.id)
        .bind(order.user_id)
        .bind(order.ticket.id)
        .bind(&order.ticket.title)
        .bind(order.ticket.price.minor())
        .bind(order.ticket.version)
        .bind(order.status.as_str())
        .bind(order.cancel_reason.map(CancelReason::as_str))
        .bind(order.expires_at)
        .bind(order.hold_until)
        .bind(order.version)
        .bind(order.created_at)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(err) if is_unique_violation(&err) => return Ok(false),
            Err(err) => return Err(anyhow::Error::new(err).context("inserting order")),
        }
        outbox::enqueue(&mut tx, event).await?;
        tx.commit().await?;
        self.outbox_written.notify_one();
        Ok(true)
    }

    async fn get(&self, id: Id) -> anyhow::Result<Option<Order>> {
        let mut conn = self.pool.acquire().await?;
        load_order(&mut conn, id, false).await
    }

    async fn for_user(&self, user: Id) -> anyhow::Result<Vec<Order>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{ORDER_COLUMNS} WHERE user_id = $1 ORDER BY created_at, id"
        )))
        .bind(user)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(read_order).collect()
    }

    async fn modify(
        &self,
        id: Id,
        claim: Option<Claim<'_>>,
        change: Change,
    ) -> anyhow::Result<Result<Modified, OrderError>> {
        let mut tx = self.pool.begin().await?;
        if let Some(claim) = claim
            && !outbox::claim(&mut tx, claim.consumer, claim.event_id).await?
        {
            return Ok(Ok(Modified::Duplicate));
        }
        let Some(mut order) = load_order(&mut tx, id, true).await? else {
            tx.commit().await?;
            return Ok(Ok(Modified::Missing));
        };
        let events = match change(&mut order) {
            Err(refusal) => return Ok(Err(refusal)),
            Ok(Decision::Keep) => {
                tx.commit().await?;
                return Ok(Ok(Modified::Unchanged(order)));
            }
            Ok(Decision::Save(events)) => events,
        };
        sqlx::query("UPDATE orders SET status = $1, cancel_reason = $2, expires_at = $3, version = $4 WHERE id = $5")
            .bind(order.status.as_str())
            .bind(order.cancel_reason.map(CancelReason::as_str))
            .bind(order.expires_at)
            .bind(order.version)
            .bind(order.id)
            .execute(&mut *tx)
            .await
            .context("saving order")?;
        for event in &events {
            outbox::enqueue(&mut tx, event).await?;
        }
        tx.commit().await?;
        if !events.is_empty() {
            self.outbox_written.notify_one();
        }
        Ok(Ok(Modified::Saved(order)))
    }

    async fn apply_to_replica(
        &self,
        ticket_id: Id,
        claim: Claim<'_>,
        change: ReplicaChange,
    ) -> anyhow::Result<ReplicaOutcome> {
        let mut tx = self.pool.begin().await?;
        // Serialise updates of one ticket across replicas of this service.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))")
            .bind(ticket_id)
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query(
            "SELECT id, title, price, user_id, version, deleted FROM tickets WHERE id = $1",
        )
        .bind(ticket_id)
        .fetch_optional(&mut *tx)
        .await?;
        let current = row.as_ref().map(read_replica).transpose()?;
        let replica = match change(current.as_ref()) {
            ReplicaDecision::NotYet => return Ok(ReplicaOutcome::NotYet),
            ReplicaDecision::Keep => None,
            ReplicaDecision::Upsert(replica) => Some(replica),
        };
        if !outbox::claim(&mut tx, claim.consumer, claim.event_id).await? {
            return Ok(ReplicaOutcome::Duplicate);
        }
        let Some(replica) = replica else {
            tx.commit().await?;
            return Ok(ReplicaOutcome::Kept);
        };
        sqlx::query(
            "INSERT INTO tickets (id, title, price, user_id, version, deleted) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (id) DO UPDATE SET title = excluded.title, price = excluded.price, \
             user_id = excluded.user_id, version = excluded.version, deleted = excluded.deleted",
        )
        .bind(replica.id)
        .bind(&replica.title)
        .bind(replica.price.minor())
        .bind(replica.user_id)
        .bind(replica.version)
        .bind(replica.deleted)
        .execute(&mut *tx)
        .await
        .context("saving ticket replica")?;
        tx.commit().await?;
        Ok(ReplicaOutcome::Applied)
    }

    async fn is_held(&self, ticket_id: Id) -> anyhow::Result<bool> {
        let held = sqlx::query(
            "SELECT 1 FROM orders WHERE ticket_id = $1 AND status IN ('created', 'awaiting:payment', 'complete') LIMIT 1",
        )
        .bind(ticket_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(held.is_some())
    }

    async fn ticket_with_line(
        &self,
        id: Id,
    ) -> anyhow::Result<Option<(TicketReplica, Option<LineGate>)>> {
        let row = sqlx::query(
            "SELECT t.id, t.title, t.price, t.user_id, t.version, t.deleted, l.version AS line_version, \
             l.waiting, l.turn_user_id, l.turn_expires_at \
             FROM tickets t LEFT JOIN ticket_lines l ON l.ticket_id = t.id WHERE t.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let line_version: Option<i64> = row.try_get("line_version")?;
        let gate = match line_version {
            None => None,
            Some(version) => {
                let turn_user: Option<Id> = row.try_get("turn_user_id")?;
                let turn_until: Option<time::OffsetDateTime> = row.try_get("turn_expires_at")?;
                Some(LineGate {
                    ticket_id: id,
                    version,
                    waiting: row.try_get::<i64, _>("waiting")? as u64,
                    turn: turn_user.zip(turn_until),
                })
            }
        };
        Ok(Some((read_replica(&row)?, gate)))
    }

    async fn apply_line_gate(
        &self,
        claim: Claim<'_>,
        gate: &LineGate,
    ) -> anyhow::Result<ReplicaOutcome> {
        let mut tx = self.pool.begin().await?;
        if !outbox::claim(&mut tx, claim.consumer, claim.event_id).await? {
            return Ok(ReplicaOutcome::Duplicate);
        }
        let saved = sqlx::query(
            "INSERT INTO ticket_lines (ticket_id, version, waiting, turn_user_id, turn_expires_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (ticket_id) DO UPDATE SET version = excluded.version, \
             waiting = excluded.waiting, turn_user_id = excluded.turn_user_id, \
             turn_expires_at = excluded.turn_expires_at WHERE ticket_lines.version < excluded.version",
        )
        .bind(gate.ticket_id)
        .bind(gate.version)
        .bind(gate.waiting as i64)
        .bind(gate.turn.map(|(user, _)| user))
        .bind(gate.turn.map(|(_, until)| until))
        .execute(&mut *tx)
        .await
        .context("saving a ticket's line")?;
        tx.commit().await?;
        Ok(if saved.rows_affected() == 1 {
            ReplicaOutcome::Applied
        } else {
            ReplicaOutcome::Kept
        })
    }

    fn idempotency(&self) -> Arc<dyn IdempotencyKeys> {
        Arc::new(PostgresKeys::new(self.pool.clone()))
    }

    async fn park(&self, consumer: &str, event: &Envelope, reason: &str) -> anyhow::Result<()> {
        outbox::park(&self.pool, consumer, event, reason).await
    }

    async fn dead_letters(&self, consumer: &str) -> anyhow::Result<Vec<(Envelope, String)>> {
        outbox::dead_letters(&self.pool, consumer).await
    }

    fn outbox(&self) -> Arc<dyn OutboxStore> {
        Arc::new(PostgresOutbox::new(self.pool.clone()))
    }

    async fn ping(&self) -> anyhow::Result<()> {
        Ok(boxoffice_platform::db::postgres::ping(&self.pool).await?)
    }
}
