//! Rooms in the distributed mode's PostgreSQL database, shared by every queue replica
//! (the lines stay in Redis): the same tables as SQLite, plus the orders replicas
//! consumed ([`RoomStore::orders_after`]) and the leases saying which replica runs each
//! room ([`RoomLeases`]). Every log write checks its room's tenure in its transaction.

use std::time::Duration;

use anyhow::Context;
use boxoffice_common::Id;
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::db::DbId;
use boxoffice_platform::outbox::postgres as outbox;
use boxoffice_platform::store::Claim;
use sqlx::{PgConnection, PgPool};
use std::sync::Arc;
use tokio::sync::Notify;

use super::sqlite::{RecordRow, SELECT_ROOM, SELECT_ROOMS, record};
use super::{EventFacts, RoomRecord, RoomStore, WorldChange};
use crate::room::engine::Stock;
use crate::room::log::Entry;
use crate::room::tenancy::{RoomLeases, Runner, TenureOver};
use crate::room::writer::Appendix;

/// The database's clock in Unix milliseconds: leases are compared on one clock, whatever
/// the replicas' clocks say.
macro_rules! now_ms {
    () => {
        "(extract(epoch from clock_timestamp()) * 1000)::bigint"
    };
}

/// The queue's rooms database.
#[derive(Debug, Clone)]
pub struct PostgresRoomStore {
    pool: PgPool,
    outbox_written: Arc<Notify>,
}

impl PostgresRoomStore {
    /// Brings the schema up to date (safe from several replicas at once).
    pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
        sqlx::migrate!("migrations/postgres")
            .run(pool)
            .await
            .context("migrating the queue's PostgreSQL database")
    }

    pub async fn open(pool: PgPool, outbox_written: Arc<Notify>) -> anyhow::Result<Self> {
        Self::migrate(&pool).await?;
        Ok(Self {
            pool,
            outbox_written,
        })
    }

    /// The pool, as the rooms' outbox, inbox and dead letters.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

async fn set_status(
    conn: &mut PgConnection,
    tickets: &[Id],
    from: &[&str],
    status: &str,
) -> anyhow::Result<Vec<Id>> {
    let ids: Vec<Id> = tickets.to_vec();
    let from: Vec<String> = from.iter().map(|&s| s.to_owned()).collect();
    let mut events: Vec<Id> = sqlx::query_scalar::<_, Option<DbId>>(
        "UPDATE room_stock SET status = $2 WHERE ticket_id = ANY($1) AND status = ANY($3) \
         RETURNING event_id",
    )
    .bind(&ids)
    .bind(status)
    .bind(&from)
    .fetch_all(&mut *conn)
    .await
    .context("changing tickets' stock status")?
    .into_iter()
    .flatten()
    .map(Id::from)
    .collect();
    events.sort_unstable();
    events.dedup();
    Ok(events)
}

async fn write_entries(
    conn: &mut PgConnection,
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

/// Whether `tenure` of `event`'s room is still running; holds the lease row until the
/// transaction ends, so no replica takes the room over in the middle of a write.
async fn tenure_runs(conn: &mut PgConnection, event: Id, tenure: i64) -> anyhow::Result<bool> {
    let found: Option<i32> = sqlx::query_scalar(concat!(
        "SELECT 1 FROM room_runners WHERE event_id = $1 AND tenure = $2 \
         AND lease_until > ",
        now_ms!(),
        " FOR SHARE"
    ))
    .bind(DbId(event))
    .bind(tenure)
    .fetch_optional(&mut *conn)
    .await
    .context("checking a room's tenure")?;
    Ok(found.is_some())
}

#[async_trait::async_trait]
impl RoomStore for PostgresRoomStore {
    async fn event(&self, event: Id) -> anyhow::Result<Option<EventFacts>> {
        let row: Option<(DbId, i64)> =
            sqlx::query_as("SELECT creator, starts_at FROM room_events WHERE event_id = $1")
                .bind(DbId(event))
                .fetch_optional(&self.pool)
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
        let mut tx = self.pool.begin().await?;
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
                WorldChange::Held { tickets, buyer } => {
                    let events = set_status(&mut tx, tickets, &["free"], "held").await?;
                    for &event in &events {
                        sqlx::query("INSERT INTO room_orders (event_id, user_id) VALUES ($1, $2)")
                            .bind(DbId(event))
                            .bind(DbId(*buyer))
                            .execute(&mut *tx)
                            .await
                            .context("recording an order for a room")?;
                    }
                    events
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
        .fetch_all(&self.pool)
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
            .fetch_all(&self.pool)
            .await
            .context("reading rooms")?;
        Ok(rows.into_iter().map(record).collect())
    }

    async fn room(&self, event: Id) -> anyhow::Result<Option<RoomRecord>> {
        let row: Option<RecordRow> = sqlx::query_as(SELECT_ROOM)
            .bind(DbId(event))
            .fetch_optional(&self.pool)
            .await
            .context("reading a room")?;
        Ok(row.map(record))
    }

    async fn save_room(
        &self,
        room: &RoomRecord,
        entries: &[Entry],
        gate: Option<&Envelope>,
        tenure: Option<i64>,
    ) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        if let Some(tenure) = tenure
            && !tenure_runs(&mut tx, room.event_id, tenure).await?
        {
            return Err(TenureOver(room.event_id).into());
        }
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
        let mut tx = self.pool.begin().await?;
        // Rooms whose tenure is checked, and those it is over for.
        let mut checked: Vec<(Id, Option<i64>)> = Vec::new();
        let mut over = Vec::new();
        let mut refused = Vec::new();
        let mut gates = false;
        for (position, appendix) in batch.iter().enumerate() {
            let event = appendix.event;
            let key = (event, appendix.tenure);
            if !checked.contains(&key) {
                checked.push(key);
                // Every room here has a tenure; one without is never written.
                let runs = match appendix.tenure {
                    Some(tenure) => tenure_runs(&mut tx, event, tenure).await?,
                    None => false,
                };
                if !runs {
                    over.push(key);
                }
            }
            if over.contains(&key) {
                refused.push(position);
                continue;
            }
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
        Ok(refused)
    }

    async fn log(&self, event: Id) -> anyhow::Result<Vec<Entry>> {
        let rows: Vec<String> =
            sqlx::query_scalar("SELECT entry FROM room_log WHERE event_id = $1 ORDER BY seq")
                .bind(DbId(event))
                .fetch_all(&self.pool)
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
                .fetch_all(&self.pool)
                .await
                .context("reading a room's members")?;
        Ok(rows
            .into_iter()
            .map(|(pid, user)| (pid, user.into()))
            .collect())
    }

    async fn orders_after(&self, event: Id, after: i64) -> anyhow::Result<Vec<(i64, Id)>> {
        let rows: Vec<(i64, DbId)> = sqlx::query_as(
            "SELECT id, user_id FROM room_orders WHERE event_id = $1 AND id > $2 ORDER BY id",
        )
        .bind(DbId(event))
        .bind(after)
        .fetch_all(&self.pool)
        .await
        .context("reading a room's orders")?;
        Ok(rows
            .into_iter()
            .map(|(id, user)| (id, user.into()))
            .collect())
    }
}

#[async_trait::async_trait]
impl RoomLeases for PostgresRoomStore {
    async fn hold(
        &self,
        event: Id,
        holder: &str,
        address: &str,
        lease: Duration,
    ) -> anyhow::Result<Option<i64>> {
        let lease = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
        let tenure: Option<i64> = sqlx::query_scalar(concat!(
            "INSERT INTO room_runners (event_id, holder, tenure, address, lease_until) \
             VALUES ($1, $2, 1, $3, ",
            now_ms!(),
            " + $4) \
             ON CONFLICT (event_id) DO UPDATE SET holder = excluded.holder, \
             address = excluded.address, lease_until = excluded.lease_until, \
             tenure = CASE WHEN room_runners.holder = excluded.holder \
                 AND room_runners.lease_until > ",
            now_ms!(),
            " \
                 THEN room_runners.tenure ELSE room_runners.tenure + 1 END \
             WHERE room_runners.holder = excluded.holder OR room_runners.lease_until <= ",
            now_ms!(),
            " \
             RETURNING tenure"
        ))
        .bind(DbId(event))
        .bind(holder)
        .bind(address)
        .bind(lease)
        .fetch_optional(&self.pool)
        .await
        .context("holding a room's lease")?;
        Ok(tenure)
    }

    async fn let_go(&self, event: Id, tenure: i64) -> anyhow::Result<()> {
        sqlx::query("UPDATE room_runners SET lease_until = 0 WHERE event_id = $1 AND tenure = $2")
            .bind(DbId(event))
            .bind(tenure)
            .execute(&self.pool)
            .await
            .context("letting a room's lease go")?;
        Ok(())
    }

    async fn runner(&self, event: Id) -> anyhow::Result<Runner> {
        let row: Option<(Option<String>, Option<bool>)> = sqlx::query_as(concat!(
            "SELECT h.address, h.lease_until > ",
            now_ms!(),
            " FROM rooms r \
             LEFT JOIN room_runners h ON h.event_id = r.event_id WHERE r.event_id = $1"
        ))
        .bind(DbId(event))
        .fetch_optional(&self.pool)
        .await
        .context("finding a room's runner")?;
        Ok(match row {
            None => Runner::NoRoom,
            Some((Some(address), Some(true))) => Runner::At(address),
            Some(_) => Runner::Nobody,
        })
    }

    async fn unheld(&self) -> anyhow::Result<Vec<Id>> {
        let rows: Vec<DbId> = sqlx::query_scalar(concat!(
            "SELECT r.event_id FROM rooms r LEFT JOIN room_runners h ON h.event_id = r.event_id \
             WHERE h.event_id IS NULL OR h.lease_until <= ",
            now_ms!()
        ))
        .fetch_all(&self.pool)
        .await
        .context("finding rooms nobody runs")?;
        Ok(rows.into_iter().map(Id::from).collect())
    }
}
