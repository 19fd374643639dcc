//! Outbox, inbox and dead letters on SQLite.
//!
//! Tables (created by each service's migrations):
//! `outbox(seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE, envelope TEXT, sent_at TEXT)`,
//! `inbox(consumer TEXT, event_id TEXT, handled_at TEXT, PRIMARY KEY (consumer, event_id))`,
//! `dead_letter(consumer TEXT, event_id TEXT, envelope TEXT, reason TEXT, parked_at TEXT, PRIMARY KEY (consumer, event_id))`.

use std::time::Duration;

use anyhow::Context;
use boxoffice_common::Id;
use sqlx::{Row, SqliteConnection};
use time::OffsetDateTime;

use super::{OutboxStore, Pending};
use crate::bus::Envelope;
use crate::db::sqlite::{SqliteDb, now_text};

/// Adds an event to the outbox inside the caller's write transaction.
pub async fn enqueue(conn: &mut SqliteConnection, event: &Envelope) -> anyhow::Result<()> {
    sqlx::query("INSERT INTO outbox (id, envelope) VALUES (?, ?)")
        .bind(event.id.to_string())
        .bind(serde_json::to_string(event)?)
        .execute(conn)
        .await
        .context("writing to the outbox")?;
    Ok(())
}

/// Records that `consumer` handled `event_id`, inside the caller's write transaction.
/// `false` means it already had: the caller should change nothing.
pub async fn claim(
    conn: &mut SqliteConnection,
    consumer: &str,
    event_id: Id,
) -> anyhow::Result<bool> {
    let result = sqlx::query(
        "INSERT INTO inbox (consumer, event_id, handled_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
    )
    .bind(consumer)
    .bind(event_id.to_string())
    .bind(now_text())
    .execute(conn)
    .await
    .context("writing to the inbox")?;
    Ok(result.rows_affected() == 1)
}

/// Parks an event `consumer` gave up on.
pub async fn park(
    db: &SqliteDb,
    consumer: &str,
    event: &Envelope,
    reason: &str,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO dead_letter (consumer, event_id, envelope, reason, parked_at) VALUES (?, ?, ?, ?, ?) \
         ON CONFLICT DO NOTHING",
    )
    .bind(consumer)
    .bind(event.id.to_string())
    .bind(serde_json::to_string(event)?)
    .bind(reason)
    .bind(now_text())
    .execute(&db.writer)
    .await
    .context("writing a dead letter")?;
    Ok(())
}

/// Events parked by `consumer`, oldest first, with their reasons.
pub async fn dead_letters(
    db: &SqliteDb,
    consumer: &str,
) -> anyhow::Result<Vec<(Envelope, String)>> {
    let rows = sqlx::query(
        "SELECT envelope, reason FROM dead_letter WHERE consumer = ? ORDER BY parked_at",
    )
    .bind(consumer)
    .fetch_all(&db.reader)
    .await?;
    rows.into_iter()
        .map(|row| {
            let envelope: String = row.try_get("envelope")?;
            Ok((serde_json::from_str(&envelope)?, row.try_get("reason")?))
        })
        .collect()
}

/// A service's outbox in its SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteOutbox {
    db: SqliteDb,
}

impl SqliteOutbox {
    pub fn new(db: SqliteDb) -> Self {
        Self { db }
    }
}

#[async_trait::async_trait]
impl OutboxStore for SqliteOutbox {
    fn commits_in_seq_order(&self) -> bool {
        true
    }

    async fn unsent_after(&self, after: i64, limit: u32) -> anyhow::Result<Vec<Pending>> {
        let rows = sqlx::query(
            "SELECT seq, envelope FROM outbox WHERE sent_at IS NULL AND seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.db.reader)
        .await
        .context("reading the outbox")?;
        rows.into_iter()
            .map(|row| {
                let envelope: String = row.try_get("envelope")?;
                Ok(Pending {
                    seq: row.try_get("seq")?,
                    event: serde_json::from_str(&envelope).context("outbox row")?,
                })
            })
            .collect()
    }

    async fn mark_sent(&self, ids: &[Id]) -> anyhow::Result<()> {
        // One statement per chunk: under load the relay settles hundreds of rows at once,
        // and the single writer connection is the scarcest thing a service has.
        for chunk in ids.chunks(500) {
            let mut update =
                sqlx::QueryBuilder::<sqlx::Sqlite>::new("UPDATE outbox SET sent_at = ");
            update.push_bind(now_text()).push(" WHERE id IN (");
            let mut list = update.separated(", ");
            for id in chunk {
                list.push_bind(id.to_string());
            }
            update.push(")");
            update.build().execute(&self.db.writer).await?;
        }
        Ok(())
    }

    async fn republish_since(&self, since: OffsetDateTime) -> anyhow::Result<u64> {
        let result = sqlx::query("UPDATE outbox SET sent_at = NULL WHERE sent_at >= ?")
            .bind(crate::db::sqlite::time_text(since))
            .execute(&self.db.writer)
            .await?;
        Ok(result.rows_affected())
    }

    async fn backlog(&self) -> anyhow::Result<(u64, Option<Id>)> {
        let row = sqlx::query(super::BACKLOG_SQL)
            .fetch_one(&self.db.reader)
            .await?;
        let pending: i64 = row.try_get("pending")?;
        let oldest: Option<String> = row.try_get("oldest")?;
        let oldest = oldest.and_then(|id| id.parse().ok());
        Ok((u64::try_from(pending).unwrap_or_default(), oldest))
    }

    async fn purge_sent(&self, older_than: Duration) -> anyhow::Result<u64> {
        let cutoff = OffsetDateTime::now_utc() - older_than;
        let result = sqlx::query("DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < ?")
            .bind(crate::db::sqlite::time_text(cutoff))
            .execute(&self.db.writer)
            .await?;
        Ok(result.rows_affected())
    }
}
