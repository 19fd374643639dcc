//! Lines in the embedded mode's SQLite file. One writer: a change's transaction sees and
//! saves the line alone, so no version check is needed.

use std::sync::Arc;

use anyhow::Context;
use boxoffice_common::Id;
use boxoffice_platform::db::sqlite::SqliteDb;
use boxoffice_platform::db::{DbId, DbTime};
use boxoffice_platform::outbox::sqlite as outbox;
use boxoffice_platform::store::{Claim, Modified, Plumbing};
use sqlx::SqliteConnection;
use time::OffsetDateTime;
use tokio::sync::{Notify, broadcast};

use super::{Change, QueueStore, Snapshot, change_feed, decide};
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
        sqlx::query_as("SELECT state, waiting FROM tickets WHERE id = $1")
            .bind(DbId(ticket_id))
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
        sqlx::query_scalar("SELECT seq FROM waiting WHERE ticket_id = $1 AND user_id = $2")
            .bind(DbId(ticket_id))
            .bind(DbId(user))
            .fetch_optional(&mut *conn)
            .await?;
    let Some(seq) = seq else { return Ok(None) };
    let ahead_or_me: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM waiting WHERE ticket_id = $1 AND seq <= $2")
            .bind(DbId(ticket_id))
            .bind(seq)
            .fetch_one(conn)
            .await?;
    Ok(Some(ahead_or_me as u64))
}

async fn front(conn: &mut SqliteConnection, ticket_id: Id) -> anyhow::Result<Vec<Id>> {
    let users: Vec<DbId> = sqlx::query_scalar(
        "SELECT user_id FROM waiting WHERE ticket_id = $1 ORDER BY seq LIMIT $2",
    )
    .bind(DbId(ticket_id))
    .bind(FRONT as i64)
    .fetch_all(conn)
    .await
    .context("reading the front of a line")?;
    Ok(users.into_iter().map(Id::from).collect())
}

async fn apply_op(conn: &mut SqliteConnection, ticket_id: Id, op: &LineOp) -> anyhow::Result<()> {
    let ticket = DbId(ticket_id);
    match op {
        LineOp::Push(user) => {
            sqlx::query(
                "INSERT INTO waiting (ticket_id, user_id, joined_at) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(ticket)
            .bind(DbId(*user))
            .bind(DbTime(OffsetDateTime::now_utc()))
            .execute(conn)
            .await?;
        }
        LineOp::Remove(user) => {
            sqlx::query("DELETE FROM waiting WHERE ticket_id = $1 AND user_id = $2")
                .bind(ticket)
                .bind(DbId(*user))
                .execute(conn)
                .await?;
        }
        LineOp::Clear => {
            sqlx::query("DELETE FROM waiting WHERE ticket_id = $1")
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
        "INSERT INTO tickets (id, state, waiting, turn_ends_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (id) DO UPDATE SET state = excluded.state, waiting = excluded.waiting, \
         turn_ends_at = excluded.turn_ends_at",
    )
    .bind(DbId(ticket_id))
    .bind(serde_json::to_string(state)?)
    .bind(waiting as i64)
    .bind(state.turn.map(|turn| DbTime(turn.expires_at)))
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
    ) -> anyhow::Result<Modified<Snapshot, QueueError>> {
        let mut tx = self.db.begin_write().await?;
        if let Some(claim) = claim
            && !outbox::claim(&mut tx, claim.consumer, claim.event_id).await?
        {
            return Ok(Modified::Duplicate);
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
            Err(refusal) => return Ok(Modified::Refused(refusal)),
        };
        if !line.changed() {
            // The inbox claim alone is worth keeping: a redelivery is then skipped early.
            tx.commit().await?;
            return Ok(Modified::Unchanged(snapshot));
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
        Ok(Modified::Saved(snapshot))
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
        let ids: Vec<DbId> = sqlx::query_scalar(
            "SELECT id FROM tickets WHERE turn_ends_at IS NOT NULL AND turn_ends_at <= $1 \
             ORDER BY turn_ends_at LIMIT $2",
        )
        .bind(DbTime(now))
        .bind(i64::from(limit))
        .fetch_all(&self.db.reader)
        .await
        .context("reading ended turns")?;
        Ok(ids.into_iter().map(Id::from).collect())
    }

    async fn next_turn_end(&self) -> anyhow::Result<Option<OffsetDateTime>> {
        let at: Option<DbTime> = sqlx::query_scalar("SELECT MIN(turn_ends_at) FROM tickets")
            .fetch_one(&self.db.reader)
            .await?;
        Ok(at.map(OffsetDateTime::from))
    }

    fn changes(&self) -> broadcast::Receiver<Id> {
        self.changes.subscribe()
    }

    fn plumbing(&self) -> Arc<dyn Plumbing> {
        Arc::new(self.db.clone())
    }

    fn rooms(&self) -> Option<Arc<dyn crate::room::store::RoomStore>> {
        Some(Arc::new(crate::room::store::SqliteRoomStore::new(
            self.db.clone(),
            Arc::clone(&self.outbox_written),
        )))
    }
}
