//! Lines in the embedded mode's SQLite file. One writer: a change's transaction sees and
//! saves the line alone, so no version check is needed.

use std::sync::Arc;

use anyhow::Context;
use boxoffice_common::Id;
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::db::sqlite::{SqliteDb, now_text, parse_time, time_text};
use boxoffice_platform::outbox::OutboxStore;
use boxoffice_platform::outbox::sqlite::{self as outbox, SqliteOutbox};
use sqlx::{Row, SqliteConnection};
use time::OffsetDateTime;
use tokio::sync::{Notify, broadcast};

use super::{Change, Claim, Modified, QueueStore, Snapshot, change_feed, decide};
use crate::domain::{FRONT, Line, LineOp, QueueError, TicketState};

#[derive(Debug, Clone)]
pub struct SqliteQueueStore {
    db: SqliteDb,
    outbox_written: Arc<Notify>,
    changes: broadcast::Sender<Id>,
}

impl SqliteQueueStore {
    pub async fn open(db: SqliteDb, outbox_written: Arc<Notify>) -> anyhow::Result<Self> {
        sqlx::migrate!("migrations/sqlite")
            .run(&db.writer)
            .await
            .context("migrating the queue SQLite database")?;
        Ok(Self {
            db,
            outbox_written,
            changes: change_feed(),
        })
    }
}

/// The ticket's state and how many wait for it.
async fn load_state(
    conn: &mut SqliteConnection,
    ticket_id: Id,
) -> anyhow::Result<(TicketState, u64)> {
    let row: Option<(String, i64)> =
        sqlx::query_as("SELECT state, waiting FROM tickets WHERE id = ?")
            .bind(ticket_id.to_string())
            .fetch_optional(conn)
            .await?;
    Ok(match row {
        Some((json, waiting)) => (
            serde_json::from_str(&json).context("reading a ticket's queue state")?,
            waiting as u64,
        ),
        None => (TicketState::default(), 0),
    })
}

/// `user`'s 1-based place in the line, if they wait in it. Costs a count of the buyers
/// ahead, so it is asked only of someone known to be in the line.
async fn position(
    conn: &mut SqliteConnection,
    ticket_id: Id,
    user: Id,
) -> anyhow::Result<Option<u64>> {
    let seq: Option<i64> =
        sqlx::query_scalar("SELECT seq FROM waiting WHERE ticket_id = ? AND user_id = ?")
            .bind(ticket_id.to_string())
            .bind(user.to_string())
            .fetch_optional(&mut *conn)
            .await?;
    let Some(seq) = seq else { return Ok(None) };
    let ahead_or_me: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM waiting WHERE ticket_id = ? AND seq <= ?")
            .bind(ticket_id.to_string())
            .bind(seq)
            .fetch_one(conn)
            .await?;
    Ok(Some(ahead_or_me as u64))
}

async fn front(conn: &mut SqliteConnection, ticket_id: Id) -> anyhow::Result<Vec<Id>> {
    let users: Vec<String> =
        sqlx::query_scalar("SELECT user_id FROM waiting WHERE ticket_id = ? ORDER BY seq LIMIT ?")
            .bind(ticket_id.to_string())
            .bind(FRONT as i64)
            .fetch_all(conn)
            .await?;
    users
        .iter()
        .map(|user| user.parse().context("reading a line member"))
        .collect()
}

async fn apply_op(conn: &mut SqliteConnection, ticket_id: Id, op: &LineOp) -> anyhow::Result<()> {
    let ticket = ticket_id.to_string();
    match op {
        LineOp::Push(user) => {
            sqlx::query(
                "INSERT INTO waiting (ticket_id, user_id, joined_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            )
            .bind(ticket)
            .bind(user.to_string())
            .bind(now_text())
            .execute(conn)
            .await?;
        }
        LineOp::Remove(user) => {
            sqlx::query("DELETE FROM waiting WHERE ticket_id = ? AND user_id = ?")
                .bind(ticket)
                .bind(user.to_string())
                .execute(conn)
                .await?;
        }
        LineOp::Clear => {
            sqlx::query("DELETE FROM waiting WHERE ticket_id = ?")
                .bind(ticket)
                .execute(conn)
                .await?;
        }
    }
    Ok(())
}

async fn save_state(
    conn: &mut SqliteConnection,
    ticket_id: Id,
    state: &TicketState,
    waiting: u64,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO tickets (id, state, waiting, turn_ends_at) VALUES (?, ?, ?, ?) \
         ON CONFLICT (id) DO UPDATE SET state = excluded.state, waiting = excluded.waiting, \
         turn_ends_at = excluded.turn_ends_at",
    )
    .bind(ticket_id.to_string())
    .bind(serde_json::to_string(state)?)
    .bind(waiting as i64)
    .bind(state.turn.map(|turn| time_text(turn.expires_at)))
    .execute(conn)
    .await
    .context("saving a ticket's queue state")?;
    Ok(())
}

#[async_trait::async_trait]
impl QueueStore for SqliteQueueStore {
    async fn modify(
        &self,
        ticket_id: Id,
        actor: Option<Id>,
        claim: Option<Claim<'_>>,
        change: Change,
    ) -> anyhow::Result<Result<Modified, QueueError>> {
        let mut tx = self.db.begin_write().await?;
        if let Some(claim) = claim
            && !outbox::claim(&mut tx, claim.consumer, claim.event_id).await?
        {
            return Ok(Ok(Modified::Duplicate));
        }
        let (state, len) = load_state(&mut tx, ticket_id).await?;
        // Most tickets have no line: then there is nothing more to read.
        let front = if len == 0 {
            Vec::new()
        } else {
            front(&mut tx, ticket_id).await?
        };
        let actor = match actor {
            Some(user) if len > 0 => Some((user, position(&mut tx, ticket_id, user).await?)),
            Some(user) => Some((user, None)),
            None => None,
        };
        let mut line = Line::loaded(state, front, len, actor);
        let (events, snapshot) = match decide(&mut line, &change) {
            Ok(decided) => decided,
            Err(refusal) => return Ok(Err(refusal)),
        };
        if !line.changed() {
            // The inbox claim alone is worth keeping: a redelivery is then skipped early.
            tx.commit().await?;
            return Ok(Ok(Modified::Unchanged(snapshot)));
        }
        for op in line.ops() {
            apply_op(&mut tx, ticket_id, op).await?;
        }
        save_state(&mut tx, ticket_id, &line.state, line.len()).await?;
        for event in &events {
            outbox::enqueue(&mut tx, event).await?;
        }
        tx.commit().await?;
        if !events.is_empty() {
            self.outbox_written.notify_one();
        }
        // Nobody listening is fine.
        let _ = self.changes.send(ticket_id);
        Ok(Ok(Modified::Saved(snapshot)))
    }

    async fn snapshot(&self, ticket_id: Id, user: Id) -> anyhow::Result<Snapshot> {
        // One read transaction, so state, length and place agree.
        let mut tx = self.db.reader.begin().await?;
        let (state, len) = load_state(&mut tx, ticket_id).await?;
        let position = position(&mut tx, ticket_id, user).await?;
        tx.commit().await?;
        Ok(Snapshot {
            state,
            len,
            position,
        })
    }

    async fn turns_ended(&self, now: OffsetDateTime, limit: u32) -> anyhow::Result<Vec<Id>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM tickets WHERE turn_ends_at IS NOT NULL AND turn_ends_at <= ? ORDER BY turn_ends_at LIMIT ?",
        )
        .bind(time_text(now))
        .bind(i64::from(limit))
        .fetch_all(&self.db.reader)
        .await?;
        ids.iter()
            .map(|id| id.parse().context("reading a ticket id"))
            .collect()
    }

    async fn next_turn_end(&self) -> anyhow::Result<Option<OffsetDateTime>> {
        let at: Option<String> = sqlx::query("SELECT MIN(turn_ends_at) FROM tickets")
            .fetch_one(&self.db.reader)
            .await?
            .try_get(0)?;
        at.as_deref().map(parse_time).transpose()
    }

    fn changes(&self) -> broadcast::Receiver<Id> {
        self.changes.subscribe()
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
