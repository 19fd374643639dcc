//! Rooms in the embedded mode's SQLite file, beside the queue's lines (one writer).

use std::sync::Arc;

use anyhow::Context;
use boxoffice_common::Id;
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::db::DbId;
use boxoffice_platform::db::sqlite::SqliteDb;
use boxoffice_platform::outbox::sqlite as outbox;
use boxoffice_platform::store::Claim;
use sqlx::SqliteConnection;
use tokio::sync::Notify;

use super::{EventFacts, RoomRecord, RoomStore, WorldChange};
use crate::room::engine::Stock;
use crate::room::log::Entry;
use crate::room::writer::Appendix;

/// The queue's SQLite database, seen as a room store. The migrations are the queue
/// store's (`SqliteQueueStore::open` runs them).
#[derive(Debug, Clone)]
pub struct SqliteRoomStore {
    db: SqliteDb,
    outbox_written: Arc<Notify>,
}

impl SqliteRoomStore {
    pub fn new(db: SqliteDb, outbox_written: Arc<Notify>) -> Self {
        Self { db, outbox_written }
    }
}

/// Sets `status` of each of `tickets` that is in one of `from`; the events they are for.
async fn set_status(
    conn: &mut SqliteConnection,
    tickets: &[Id],
    from: &[&str],
    status: &str,
) -> anyhow::Result<Vec<Id>> {
    let mut events = Vec::new();
    for &ticket in tickets {
        let event: Option<Option<DbId>> = sqlx::query_scalar(
            "UPDATE room_stock SET status = $2 WHERE ticket_id = $1 \
             AND status IN ($3, $4, $5) RETURNING event_id",
        )
        .bind(DbId(ticket))
        .bind(status)
        .bind(from.first().copied().unwrap_or(""))
        .bind(from.get(1).copied().unwrap_or(""))
        .bind(from.get(2).copied().unwrap_or(""))
        .fetch_optional(&mut *conn)
        .await
        .context("changing a ticket's stock status")?;
        if let Some(Some(event)) = event {
            events.push(event.into());
        }
    }
    events.sort_unstable();
    events.dedup();
    Ok(events)
}

async fn write_entries(
    conn: &mut SqliteConnection,
    event: Id,
    entries: &[Entry],
) -> anyhow::Result<()> {
    for entry in entries {
        sqlx::query("INSERT INTO room_log (event_id, seq, entry) VALUES ($1, $2, $3)")
            .bind(DbId(event))
            .bind(i64::try_from(entry.seq)?)
            .bind(serde_json::to_string(entry)?)
            .execute(&mut *conn)
            .await
            .context("appending to a room's fairness log")?;
    }
    Ok(())
}

/// A room's settings as selected by [`SELECT_ROOMS`].
pub(super) type RecordRow = (DbId, i64, i64, String, String, i64);

/// Every room's settings, and one room's.
macro_rules! select_rooms {
    () => {
        "SELECT event_id, opens_at, per_account_limit, seed, salt, gate_version FROM rooms"
    };
}
pub(super) const SELECT_ROOMS: &str = select_rooms!();
pub(super) const SELECT_ROOM: &str = concat!(select_rooms!(), " WHERE event_id = $1");

pub(super) fn record(
    (event_id, opens_at, limit, seed, salt, gate_version): RecordRow,
) -> RoomRecord {
    RoomRecord {
        event_id: event_id.into(),
        opens_at,
        per_account_limit: u32::try_from(limit).unwrap_or(u32::MAX),
        seed,
        salt,
        gate_version,
    }
}

#[async_trait::async_trait]
impl RoomStore for SqliteRoomStore {
    async fn event(&self, event: Id) -> anyhow::Result<Option<EventFacts>> {
        let row: Option<(DbId, i64)> =
            sqlx::query_as("SELECT creator, starts_at FROM room_events WHERE event_id = $1")
                .bind(DbId(event))
                .fetch_optional(&self.db.reader)
                .await?;
        Ok(row.map(|(creator, starts_at)| EventFacts {
            creator: creator.into(),
            starts_at,
        }))
    }

    async fn apply_all(
        &self,
        changes: &[(Claim<'_>, WorldChange)],
    ) -> anyhow::Result<Vec<Vec<Id>>> {
        let mut tx = self.db.begin_write().await?;
        let mut concerned = Vec::with_capacity(changes.len());
        for (claim, change) in changes {
            if !outbox::claim(&mut tx, claim.consumer, claim.event_id).await? {
                concerned.push(Vec::new());
                continue;
            }
            let events = match change {
                WorldChange::Event { id, facts } => {
                    sqlx::query(
                    "INSERT INTO room_events (event_id, creator, starts_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (event_id) DO UPDATE SET creator = excluded.creator, \
                     starts_at = excluded.starts_at",
                )
                .bind(DbId(*id))
                .bind(DbId(facts.creator))
                .bind(facts.starts_at)
                .execute(&mut *tx)
                .await
                .context("keeping an event")?;
                    Vec::new()
                }
                WorldChange::Ticket { id, event } => {
                    sqlx::query(
                    "INSERT INTO room_stock (ticket_id, event_id, status) VALUES ($1, $2, 'free') \
                     ON CONFLICT (ticket_id) DO UPDATE SET event_id = excluded.event_id",
                )
                .bind(DbId(*id))
                .bind(event.map(DbId))
                .execute(&mut *tx)
                .await
                .context("keeping a ticket's event")?;
                    Vec::new()
                }
                WorldChange::Gone { id } => {
                    set_status(&mut tx, &[*id], &["free", "held"], "gone").await?
                }
                WorldChange::Held { tickets, .. } => {
                    set_status(&mut tx, tickets, &["free"], "held").await?
                }
                WorldChange::Freed { tickets } => {
                    set_status(&mut tx, tickets, &["held"], "free").await?
                }
                WorldChange::Sold { tickets } => {
                    set_status(&mut tx, tickets, &["free", "held"], "sold").await?
                }
            };
            concerned.push(events);
        }
        tx.commit().await?;
        Ok(concerned)
    }

    async fn stock(&self, event: Id) -> anyhow::Result<Stock> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT status, COUNT(*) FROM room_stock WHERE event_id = $1 \
             AND status IN ('free', 'held', 'sold') GROUP BY status",
        )
        .bind(DbId(event))
        .fetch_all(&self.db.reader)
        .await
        .context("counting an event's stock")?;
        let count = |status: &str| {
            rows.iter()
                .find(|(s, _)| s == status)
                .map_or(0, |(_, n)| u32::try_from(*n).unwrap_or(u32::MAX))
        };
        Ok(Stock {
            free: count("free"),
            held: count("held"),
            sold: count("sold"),
        })
    }

    async fn rooms(&self) -> anyhow::Result<Vec<RoomRecord>> {
        let rows: Vec<RecordRow> = sqlx::query_as(SELECT_ROOMS)
            .fetch_all(&self.db.reader)
            .await
            .context("reading rooms")?;
        Ok(rows.into_iter().map(record).collect())
    }

    async fn room(&self, event: Id) -> anyhow::Result<Option<RoomRecord>> {
        let row: Option<RecordRow> = sqlx::query_as(SELECT_ROOM)
            .bind(DbId(event))
            .fetch_optional(&self.db.reader)
            .await
            .context("reading a room")?;
        Ok(row.map(record))
    }

    /// One process runs every room here: there are no tenures to check.
    async fn save_room(
        &self,
        room: &RoomRecord,
        entries: &[Entry],
        gate: Option<&Envelope>,
        _tenure: Option<i64>,
    ) -> anyhow::Result<()> {
        let mut tx = self.db.begin_write().await?;
        sqlx::query(
            "INSERT INTO rooms (event_id, opens_at, per_account_limit, seed, salt, gate_version) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO UPDATE SET \
             opens_at = excluded.opens_at, per_account_limit = excluded.per_account_limit, \
             gate_version = excluded.gate_version",
        )
        .bind(DbId(room.event_id))
        .bind(room.opens_at)
        .bind(i64::from(room.per_account_limit))
        .bind(&room.seed)
        .bind(&room.salt)
        .bind(room.gate_version)
        .execute(&mut *tx)
        .await
        .context("saving a room")?;
        write_entries(&mut tx, room.event_id, entries).await?;
        if let Some(gate) = gate {
            outbox::enqueue(&mut tx, gate).await?;
        }
        tx.commit().await?;
        if gate.is_some() {
            self.outbox_written.notify_one();
        }
        Ok(())
    }

    async fn append(&self, batch: &[&Appendix]) -> anyhow::Result<Vec<usize>> {
        let mut tx = self.db.begin_write().await?;
        let mut gates = false;
        for appendix in batch {
            let event = appendix.event;
            write_entries(&mut tx, event, &appendix.entries).await?;
            for (pid, user) in &appendix.members {
                sqlx::query(
                    "INSERT INTO room_members (event_id, pid, user_id) VALUES ($1, $2, $3) \
                     ON CONFLICT (event_id, pid) DO NOTHING",
                )
                .bind(DbId(event))
                .bind(pid)
                .bind(DbId(*user))
                .execute(&mut *tx)
                .await
                .context("keeping a room's member")?;
            }
            if let Some((version, gate)) = &appendix.gate {
                sqlx::query("UPDATE rooms SET gate_version = $2 WHERE event_id = $1")
                    .bind(DbId(event))
                    .bind(*version)
                    .execute(&mut *tx)
                    .await?;
                outbox::enqueue(&mut tx, gate).await?;
                gates = true;
            }
        }
        tx.commit().await?;
        if gates {
            self.outbox_written.notify_one();
        }
        // One process runs every room: no tenure ends.
        Ok(Vec::new())
    }

    async fn log(&self, event: Id) -> anyhow::Result<Vec<Entry>> {
        let rows: Vec<String> =
            sqlx::query_scalar("SELECT entry FROM room_log WHERE event_id = $1 ORDER BY seq")
                .bind(DbId(event))
                .fetch_all(&self.db.reader)
                .await
                .context("reading a room's log")?;
        rows.iter()
            .map(|row| serde_json::from_str(row).context("reading a fairness log entry"))
            .collect()
    }

    async fn members(&self, event: Id) -> anyhow::Result<Vec<(String, Id)>> {
        let rows: Vec<(String, DbId)> =
            sqlx::query_as("SELECT pid, user_id FROM room_members WHERE event_id = $1")
                .bind(DbId(event))
                .fetch_all(&self.db.reader)
                .await
                .context("reading a room's members")?;
        Ok(rows
            .into_iter()
            .map(|(pid, user)| (pid, user.into()))
            .collect())
    }
}
