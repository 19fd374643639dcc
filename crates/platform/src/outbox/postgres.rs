//! Outbox, inbox and dead letters on PostgreSQL.
//!
//! Tables (created by each service's migrations):
//! `outbox(seq BIGSERIAL PRIMARY KEY, id UUID UNIQUE, envelope JSONB, sent_at TIMESTAMPTZ)`,
//! `inbox(consumer TEXT, event_id UUID, handled_at TIMESTAMPTZ, PRIMARY KEY (consumer, event_id))`,
//! `dead_letter(consumer TEXT, event_id UUID, envelope JSONB, reason TEXT, parked_at TIMESTAMPTZ, PRIMARY KEY (consumer, event_id))`.

use std::time::Duration;

use anyhow::Context;
use boxoffice_common::Id;
use sqlx::postgres::PgPool;
use sqlx::{PgConnection, Row};
use time::OffsetDateTime;

use super::{OutboxStore, Pending};
use crate::bus::Envelope;

/// Adds an event to the outbox inside the caller's transaction.
pub async fn enqueue(conn: &mut PgConnection, event: &Envelope) -> anyhow::Result<()> {
    sqlx::query("INSERT INTO outbox (id, envelope) VALUES ($1, $2)")
        .bind(event.id)
        .bind(sqlx::types::Json(event))
        .execute(conn)
        .await
        .context("writing to the outbox")?;
    Ok(())
}

/// Records that `consumer` handled `event_id`, inside the caller's transaction.
/// `false` means it already had: the caller should change nothing.
pub async fn claim(conn: &mut PgConnection, consumer: &str, event_id: Id) -> anyhow::Result<bool> {
    let result = sqlx::query(
        "INSERT INTO inbox (consumer, event_id, handled_at) VALUES ($1, $2, now()) ON CONFLICT DO NOTHING",
    )
    .bind(consumer)
    .bind(event_id)
    .execute(conn)
    .await
    .context("writing to the inbox")?;
    Ok(result.rows_affected() == 1)
}

/// Parks an event `consumer` gave up on.
pub async fn park(
    pool: &PgPool,
    consumer: &str,
    event: &Envelope,
    reason: &str,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO dead_letter (consumer, event_id, envelope, reason, parked_at) VALUES ($1, $2, $3, $4, now()) \
         ON CONFLICT DO NOTHING",
    )
    .bind(consumer)
    .bind(event.id)
    .bind(sqlx::types::Json(event))
    .bind(reason)
    .execute(pool)
    .await
    .context("writing a dead letter")?;
    Ok(())
}

/// Events parked by `consumer`, oldest first, with their reasons.
pub async fn dead_letters(
    pool: &PgPool,
    consumer: &str,
) -> anyhow::Result<Vec<(Envelope, String)>> {
    let rows = sqlx::query(
        "SELECT envelope, reason FROM dead_letter WHERE consumer = $1 ORDER BY parked_at",
    )
    .bind(consumer)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|row| {
            let sqlx::types::Json(envelope): sqlx::types::Json<Envelope> =
                row.try_get("envelope")?;
            Ok((envelope, row.try_get("reason")?))
        })
        .collect()
}

/// A service's outbox in its PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PostgresOutbox {
    pool: PgPool,
}

impl PostgresOutbox {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[async_trait::async_trait]
impl OutboxStore for PostgresOutbox {
    async fn unsent_after(&self, after: i64, limit: u32) -> anyhow::Result<Vec<Pending>> {
        let rows = sqlx::query(
            "SELECT seq, envelope FROM outbox WHERE sent_at IS NULL AND seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .context("reading the outbox")?;
        rows.into_iter()
            .map(|row| {
                let sqlx::types::Json(event): sqlx::types::Json<Envelope> =
                    row.try_get("envelope")?;
                Ok(Pending {
                    seq: row.try_get("seq")?,
                    event,
                })
            })
            .collect()
    }

    async fn mark_sent(&self, ids: &[Id]) -> anyhow::Result<()> {
        sqlx::query("UPDATE outbox SET sent_at = now() WHERE id = ANY($1)")
            .bind(ids)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn republish_since(&self, since: OffsetDateTime) -> anyhow::Result<u64> {
        let result = sqlx::query("UPDATE outbox SET sent_at = NULL WHERE sent_at >= $1")
            .bind(since)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }

    async fn backlog(&self) -> anyhow::Result<(u64, Option<Id>)> {
        let row = sqlx::query(super::BACKLOG_SQL)
            .fetch_one(&self.pool)
            .await?;
        let pending: i64 = row.try_get("pending")?;
        Ok((
            u64::try_from(pending).unwrap_or_default(),
            row.try_get("oldest")?,
        ))
    }

    async fn purge_sent(&self, older_than: Duration) -> anyhow::Result<u64> {
        let cutoff = OffsetDateTime::now_utc() - older_than;
        let result = sqlx::query("DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < $1")
            .bind(cutoff)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }
}
