//! Every SQL statement of the tickets store, written once for both databases.
//!
//! `$n` placeholders work on sqlx's SQLite driver too, and [`DbId`] / [`DbTime`] encode
//! as TEXT on SQLite and as UUID / TIMESTAMPTZ on PostgreSQL, so one text and one
//! [`TicketRow`] serve both. What does differ is named here rather than hidden: the
//! "not deleted" test of the listing ([`Dialect::LIVE`]) and PostgreSQL's row lock
//! ([`select_for_update`]). Transactions stay in `sqlite.rs` and `postgres.rs`.
//!
//! The listing is assembled from parts, in `listing.rs`. Plain reads and single-statement
//! writes ([`get`], [`close_order`], [`is_order_closed`]) are generic over the pool, since
//! they have no transaction to spell per database.

use anyhow::Context;
use boxoffice_common::{Id, Money};
use boxoffice_platform::db::columns::{DbId, DbTime};
use sqlx::postgres::Postgres;
use sqlx::query::{Query, QueryAs};
use sqlx::sqlite::Sqlite;
use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, Pool, Type};

use crate::domain::{Ticket, TicketStatus};

const INSERT: &str = "INSERT INTO tickets \
     (id, title, price, description, user_id, order_id, status, version, created_at, \
      event_id, serial_number, deleted) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";

/// The columns of [`TicketRow`], in every statement that reads tickets.
pub const COLUMNS: &str = "id, title, price, description, user_id, order_id, status, \
     version, created_at, event_id, serial_number, deleted";

/// A live ticket by id. `NOT deleted` reads the same on both databases (an INTEGER 0/1
/// on SQLite, a BOOLEAN on PostgreSQL); the primary key finds the row either way.
const SELECT: &str = "SELECT id, title, price, description, user_id, order_id, status, \
     version, created_at, event_id, serial_number, deleted \
     FROM tickets WHERE id = $1 AND NOT deleted";

/// PostgreSQL only: [`SELECT`], with the row locked until the transaction ends. SQLite
/// has no row locks; its writer holds the whole file from `BEGIN IMMEDIATE`.
const SELECT_FOR_UPDATE: &str = "SELECT id, title, price, description, user_id, order_id, \
     status, version, created_at, event_id, serial_number, deleted \
     FROM tickets WHERE id = $1 AND NOT deleted FOR UPDATE";

/// Event and serial are saved too: the serial index may refuse the save.
const UPDATE: &str = "UPDATE tickets SET title = $1, price = $2, description = $3, \
     order_id = $4, status = $5, version = $6, event_id = $7, serial_number = $8, \
     deleted = $9 WHERE id = $10";

/// `ON CONFLICT DO NOTHING` without a target reads the same on SQLite and PostgreSQL.
const CLOSE_ORDER: &str = "INSERT INTO closed_orders (order_id) VALUES ($1) ON CONFLICT DO NOTHING";

const IS_ORDER_CLOSED: &str = "SELECT 1 FROM closed_orders WHERE order_id = $1";

/// The pieces of SQL text that differ between the two databases.
pub trait Dialect: Database {
    /// "Not withdrawn", spelled the way the partial indexes `tickets_listing` and
    /// `tickets_by_user` are declared: SQLite's planner uses a partial index only when it
    /// finds the index's own `WHERE` term in the query (`deleted = 0`; `NOT deleted` or a
    /// bound `false` scan the table), and PostgreSQL has no `boolean = integer`.
    const LIVE: &'static str;
}

impl Dialect for Sqlite {
    const LIVE: &'static str = "deleted = 0";
}

impl Dialect for Postgres {
    const LIVE: &'static str = "NOT deleted";
}

/// A type both drivers bind; names the bounds once for the generic statements below.
pub trait Column<DB: Database>: for<'t> Encode<'t, DB> + Type<DB> {}

impl<DB: Database, T: for<'t> Encode<'t, DB> + Type<DB>> Column<DB> for T {}

/// A row of `tickets`, as both databases hand it back.
#[derive(Debug, FromRow)]
pub struct TicketRow {
    id: DbId,
    title: String,
    /// Minor units.
    price: i64,
    description: String,
    user_id: DbId,
    order_id: Option<DbId>,
    status: String,
    version: i64,
    created_at: DbTime,
    event_id: Option<DbId>,
    serial_number: Option<String>,
    deleted: bool,
}

impl TryFrom<TicketRow> for Ticket {
    type Error = anyhow::Error;

    fn try_from(row: TicketRow) -> anyhow::Result<Self> {
        Ok(Self {
            id: row.id.into(),
            title: row.title,
            price: Money::from_minor(row.price),
            description: row.description,
            user_id: row.user_id.into(),
            order_id: row.order_id.map(Id::from),
            status: TicketStatus::parse(&row.status).context("stored status")?,
            version: row.version,
            created_at: row.created_at.into(),
            event_id: row.event_id.map(Id::from),
            serial_number: row.serial_number,
            deleted: row.deleted,
        })
    }
}

/// Reads rows into tickets; a row this build cannot read is an error, not a gap.
pub fn tickets(rows: Vec<TicketRow>) -> anyhow::Result<Vec<Ticket>> {
    rows.into_iter().map(Ticket::try_from).collect()
}

/// Adds `ticket` as a new row.
pub fn insert<'q, DB>(ticket: &Ticket) -> Query<'q, DB, DB::Arguments>
where
    DB: Database,
    String: Column<DB>,
    i64: Column<DB>,
    bool: Column<DB>,
    DbId: Column<DB>,
    Option<DbId>: Column<DB>,
    Option<String>: Column<DB>,
    DbTime: Column<DB>,
{
    sqlx::query(INSERT)
        .bind(DbId(ticket.id))
        .bind(ticket.title.clone())
        .bind(ticket.price.minor())
        .bind(ticket.description.clone())
        .bind(DbId(ticket.user_id))
        .bind(ticket.order_id.map(DbId))
        .bind(ticket.status.as_str().to_owned())
        .bind(ticket.version)
        .bind(DbTime(ticket.created_at))
        .bind(ticket.event_id.map(DbId))
        .bind(ticket.serial_number.clone())
        .bind(ticket.deleted)
}

/// Saves every field a change can touch, `deleted` included.
pub fn update<'q, DB>(ticket: &Ticket) -> Query<'q, DB, DB::Arguments>
where
    DB: Database,
    String: Column<DB>,
    i64: Column<DB>,
    bool: Column<DB>,
    DbId: Column<DB>,
    Option<DbId>: Column<DB>,
    Option<String>: Column<DB>,
{
    sqlx::query(UPDATE)
        .bind(ticket.title.clone())
        .bind(ticket.price.minor())
        .bind(ticket.description.clone())
        .bind(ticket.order_id.map(DbId))
        .bind(ticket.status.as_str().to_owned())
        .bind(ticket.version)
        .bind(ticket.event_id.map(DbId))
        .bind(ticket.serial_number.clone())
        .bind(ticket.deleted)
        .bind(DbId(ticket.id))
}

/// The live ticket `id`, unlocked.
pub fn select<'q, DB>(id: Id) -> QueryAs<'q, DB, TicketRow, DB::Arguments>
where
    DB: Database,
    DbId: Column<DB>,
    TicketRow: for<'r> FromRow<'r, DB::Row>,
{
    sqlx::query_as(SELECT).bind(DbId(id))
}

/// PostgreSQL: the live ticket `id`, locked for the transaction (see [`SELECT_FOR_UPDATE`]).
pub fn select_for_update<'q>(
    id: Id,
) -> QueryAs<'q, Postgres, TicketRow, <Postgres as Database>::Arguments> {
    sqlx::query_as(SELECT_FOR_UPDATE).bind(DbId(id))
}

/// The live ticket `id`: a read on `pool`, outside any transaction.
pub async fn get<DB>(pool: &Pool<DB>, id: Id) -> anyhow::Result<Option<Ticket>>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    TicketRow: for<'r> FromRow<'r, DB::Row> + Send + Unpin,
    DbId: Column<DB>,
{
    let row = select::<DB>(id).fetch_optional(pool).await?;
    row.map(Ticket::try_from).transpose()
}

/// Remembers `order_id` as over, in a statement of its own; repeating it is harmless.
pub async fn close_order<DB>(pool: &Pool<DB>, order_id: Id) -> anyhow::Result<()>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    DbId: Column<DB>,
{
    sqlx::query(CLOSE_ORDER)
        .bind(DbId(order_id))
        .execute(pool)
        .await?;
    Ok(())
}

/// Whether `order_id` is over.
pub async fn is_order_closed<DB>(pool: &Pool<DB>, order_id: Id) -> anyhow::Result<bool>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    DbId: Column<DB>,
{
    let row = sqlx::query(IS_ORDER_CLOSED)
        .bind(DbId(order_id))
        .fetch_optional(pool)
        .await?;
    Ok(row.is_some())
}
