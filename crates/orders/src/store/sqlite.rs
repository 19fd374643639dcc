//! Orders and the ticket replica in the embedded mode's SQLite file.

use std::sync::Arc;

use anyhow::Context;
use boxoffice_common::{Id, Money};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::db::sqlite::{SqliteDb, parse_time, time_text};
use boxoffice_platform::idempotency::IdempotencyKeys;
use boxoffice_platform::idempotency::sqlite::SqliteKeys;
use boxoffice_platform::outbox::OutboxStore;
use boxoffice_platform::outbox::sqlite::{self as outbox, SqliteOutbox};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use tokio::sync::Notify;

use super::{
    Change, Claim, Decision, Modified, OrderStore, ReplicaChange, ReplicaDecision, ReplicaOutcome,
    is_unique_violation,
};
use crate::domain::{
    CancelReason, LineGate, Order, OrderError, OrderStatus, OrderedTicket, TicketReplica,
};

#[derive(Debug, Clone)]
pub struct SqliteOrderStore {
    db: SqliteDb,
    outbox_written: Arc<Notify>,
}

impl SqliteOrderStore {
    pub async fn open(db: SqliteDb, outbox_written: Arc<Notify>) -> anyhow::Result<Self> {
        sqlx::migrate!("migrations/sqlite")
            .run(&db.writer)
            .await
            .context("migrating the orders SQLite database")?;
        Ok(Self { db, outbox_written })
    }
}

fn read_order(row: &SqliteRow) -> anyhow::Result<Order> {
    let id: String = row.try_get("id")?;
    let user_id: String = row.try_get("user_id")?;
    let ticket_id: String = row.try_get("ticket_id")?;
    let status: String = row.try_get("status")?;
    let reason: Option<String> = row.try_get("cancel_reason")?;
    let expires_at: String = row.try_get("expires_at")?;
    let hold_until: Option<String> = row.try_get("hold_until")?;
    let created_at: String = row.try_get("created_at")?;
    Ok(Order {
        id: id.parse()?,
        user_id: user_id.parse()?,
        ticket: OrderedTicket {
            id: ticket_id.parse()?,
            title: row.try_get("ticket_title")?,
            price: Money::from_minor(row.try_get("ticket_price")?),
            version: row.try_get("ticket_version")?,
        },
        status: OrderStatus::parse(&status).context("stored status")?,
        expires_at: parse_time(&expires_at)?,
        hold_until: parse_time(hold_until.as_deref().unwrap_or(&expires_at))?,
        version: row.try_get("version")?,
        created_at: parse_time(&created_at)?,
        cancel_reason: reason.as_deref().and_then(CancelReason::parse),
    })
}

fn read_replica(row: &SqliteRow) -> anyhow::Result<TicketReplica> {
    let id: String = row.try_get("id")?;
    let user_id: String = row.try_get("user_id")?;
    Ok(TicketReplica {
        id: id.parse()?,
        title: row.try_get("title")?,
        price: Money::from_minor(row.try_get("price")?),
        user_id: user_id.parse()?,
        version: row.try_get("version")?,
        deleted: row.try_get("deleted")?,
    })
}

const ORDER_COLUMNS: &str = "SELECT id, user_id, ticket_id, ticket_title, ticket_price, ticket_version, status, \
     cancel_reason, expires_at, hold_until, version, created_at FROM orders";

async fn load_order(conn: &mut SqliteConnection, id: Id) -> anyhow::Result<Option<Order>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("{ORDER_COLUMNS} WHERE id = ?")))
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(read_order).transpose()
}

async fn load_replica(
    conn: &mut SqliteConnection,
    id: Id,
) -> anyhow::Result<Option<TicketReplica>> {
    let row =
        sqlx::query("SELECT id, title, price, user_id, version, deleted FROM tickets WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(conn)
            .await?;
    row.as_ref().map(read_replica).transpose()
}

async fn ticket_is_held(pool: &sqlx::SqlitePool, ticket_id: Id) -> anyhow::Result<bool> {
    let held = sqlx::query(
        "SELECT 1 FROM orders WHERE ticket_id = ? AND status IN ('created', 'awaiting:payment', 'complete') LIMIT 1",
    )
    .bind(ticket_id.to_string())
    .fetch_optional(pool)
    .await?;
    Ok(held.is_some())
}

#[async_trait::async_trait]
impl OrderStore for SqliteOrderStore {
    async fn ticket(&self, id: Id) -> anyhow::Result<Option<TicketReplica>> {
        let mut conn = self.db.reader.acquire().await?;
        load_replica(&mut conn, id).await
    }

    async fn insert(&self, order: &Order, event: &Envelope) -> anyhow::Result<bool> {
        // In a rush most attempts are for a ticket already held: answer those from a
        // reader, leaving the single writer to the attempts that can succeed. The unique
        // index below still decides every race.
        if ticket_is_held(&self.db.reader, order.ticket.id).await? {
            return Ok(false);
        }
        let mut tx = self.db.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO orders (id, user_id, ticket_id, ticket_title, ticket_price, ticket_version, status, \
             cancel_reason, expires_at, hold_until, version, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(order.id.to_string())
        .bind(order.user_id.to_string())
        .bind(order.ticket.id.to_string())
        .bind(&order.ticket.title)
        .bind(order.ticket.price.minor())
        .bind(order.ticket.version)
        .bind(order.status.as_str())
        .bind(order.cancel_reason.map(CancelReason::as_str))
        .bind(time_text(order.expires_at))
        .bind(time_text(order.hold_until))
        .bind(order.version)
        .bind(time_text(order.created_at))
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
        let mut conn = self.db.reader.acquire().await?;
        load_order(&mut conn, id).await
    }

    async fn for_user(&self, user: Id) -> anyhow::Result<Vec<Order>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{ORDER_COLUMNS} WHERE user_id = ? ORDER BY created_at, id"
        )))
        .bind(user.to_string())
        .fetch_all(&self.db.reader)
        .await?;
        rows.iter().map(read_order).collect()
    }

    async fn modify(
        &self,
        id: Id,
        claim: Option<Claim<'_>>,
        change: Change,
    ) -> anyhow::Result<Result<Modified, OrderError>> {
        let mut tx = self.db.begin_write().await?;
        if let Some(claim) = claim
            && !outbox::claim(&mut tx, claim.consumer, claim.event_id).await?
        {
            return Ok(Ok(Modified::Duplicate));
        }
        let Some(mut order) = load_order(&mut tx, id).await? else {
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
        sqlx::query("UPDATE orders SET status = ?, cancel_reason = ?, expires_at = ?, version = ? WHERE id = ?")
            .bind(order.status.as_str())
            .bind(order.cancel_reason.map(CancelReason::as_str))
            .bind(time_text(order.expires_at))
            .bind(order.version)
            .bind(order.id.to_string())
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
        let mut tx = self.db.begin_write().await?;
        let current = load_replica(&mut tx, ticket_id).await?;
        let replica = match change(current.as_ref()) {
            // Leave the inbox alone too, so the redelivery is not mistaken for a duplicate.
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
            "INSERT INTO tickets (id, title, price, user_id, version, deleted) VALUES (?, ?, ?, ?, ?, ?) \
             ON CONFLICT (id) DO UPDATE SET title = excluded.title, price = excluded.price, \
             user_id = excluded.user_id, version = excluded.version, deleted = excluded.deleted",
        )
        .bind(replica.id.to_string())
        .bind(&replica.title)
        .bind(replica.price.minor())
        .bind(replica.user_id.to_string())
        .bind(replica.version)
        .bind(replica.deleted)
        .execute(&mut *tx)
        .await
        .context("saving ticket replica")?;
        tx.commit().await?;
        Ok(ReplicaOutcome::Applied)
    }

    async fn is_held(&self, ticket_id: Id) -> anyhow::Result<bool> {
        ticket_is_held(&self.db.reader, ticket_id).await
    }

    async fn ticket_with_line(
        &self,
        id: Id,
    ) -> anyhow::Result<Option<(TicketReplica, Option<LineGate>)>> {
        let row = sqlx::query(
            "SELECT t.id, t.title, t.price, t.user_id, t.version, t.deleted, l.version AS line_version, \
             l.waiting, l.turn_user_id, l.turn_expires_at \
             FROM tickets t LEFT JOIN ticket_lines l ON l.ticket_id = t.id WHERE t.id = ?",
        )
        .bind(id.to_string())
        .fetch_optional(&self.db.reader)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let line_version: Option<i64> = row.try_get("line_version")?;
        let gate = match line_version {
            None => None,
            Some(version) => {
                let turn_user: Option<String> = row.try_get("turn_user_id")?;
                let turn_until: Option<String> = row.try_get("turn_expires_at")?;
                let turn = match (turn_user, turn_until) {
                    (Some(user), Some(until)) => Some((user.parse()?, parse_time(&until)?)),
                    _ => None,
                };
                Some(LineGate {
                    ticket_id: id,
                    version,
                    waiting: row.try_get::<i64, _>("waiting")? as u64,
                    turn,
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
        let mut tx = self.db.begin_write().await?;
        if !outbox::claim(&mut tx, claim.consumer, claim.event_id).await? {
            return Ok(ReplicaOutcome::Duplicate);
        }
        let saved = sqlx::query(
            "INSERT INTO ticket_lines (ticket_id, version, waiting, turn_user_id, turn_expires_at) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (ticket_id) DO UPDATE SET version = excluded.version, \
             waiting = excluded.waiting, turn_user_id = excluded.turn_user_id, \
             turn_expires_at = excluded.turn_expires_at WHERE ticket_lines.version < excluded.version",
        )
        .bind(gate.ticket_id.to_string())
        .bind(gate.version)
        .bind(gate.waiting as i64)
        .bind(gate.turn.map(|(user, _)| user.to_string()))
        .bind(gate.turn.map(|(_, until)| time_text(until)))
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
        Arc::new(SqliteKeys::new(self.db.clone()))
    }

    async fn park(&self, consumer: &str, event: &Envelope, reason: &str) -> anyhow::Result<()> {
        outbox::park(&self.db, consumer, event, reason).await
    }

    async fn dead_letters(&self, consumer: &str) -> anyhow::Result<Vec<(Envelope, String)>> {
        outbox::dead_letters(&self.db, consumer).await
    }

    fn outbox(&self) -> Arc<dyn OutboxStore> {
        Arc::new(SqliteOutbox::new(self.db.clone()))
    }

    async fn ping(&self) -> anyhow::Result<()> {
        Ok(self.db.ping().await?)
    }
}
