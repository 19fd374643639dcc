//! The job store's statements, written and bound once for both databases where they
//! read the same; the one that differs (taking due jobs) has a constant per dialect.
//!
//! `$n` placeholders work on sqlx's SQLite driver too, and [`DbId`]/[`DbTime`] bind and
//! read as text on SQLite and as `UUID`/`TIMESTAMPTZ` on PostgreSQL, so each shared
//! statement is built here, generic over the database, and the two stores only choose
//! where it runs and how the write transaction is taken.

use boxoffice_common::Id;
use boxoffice_platform::db::{Bind, DbId, DbTime};
use sqlx::query::{Query, QueryScalar};
use sqlx::{Database, FromRow};
use time::OffsetDateTime;

/// A single-column result with its arguments, ready to run on either database.
pub type Scalar<DB, T> = QueryScalar<'static, DB, T, <DB as Database>::Arguments>;

/// One job per order and due time: a second `order:extended` for the same end adds
/// nothing. `created_at` is bound rather than `now()` so the text serves both databases.
pub fn schedule<DB: Database>(
    order_id: Id,
    due_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Query<'static, DB, <DB as Database>::Arguments>
where
    DbId: Bind<DB>,
    DbTime: Bind<DB>,
{
    sqlx::query(
        "INSERT INTO scheduled_job (order_id, due_at, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
    )
    .bind(DbId(order_id))
    .bind(DbTime(due_at))
    .bind(DbTime(now))
}

/// When the earliest job is due; `NULL` when there is none.
pub fn next_due<DB: Database>() -> Scalar<DB, Option<DbTime>>
where
    (Option<DbTime>,): for<'r> FromRow<'r, DB::Row>,
{
    sqlx::query_scalar("SELECT MIN(due_at) FROM scheduled_job")
}

pub fn pending<DB: Database>() -> Scalar<DB, i64>
where
    (i64,): for<'r> FromRow<'r, DB::Row>,
{
    sqlx::query_scalar("SELECT COUNT(*) FROM scheduled_job")
}

/// Takes up to `$2` jobs due at `$1`, earliest first, returning their orders. Per
/// dialect: SQLite's single writer and `BEGIN IMMEDIATE` already make the take atomic,
/// so it picks by `rowid`.
pub const TAKE_DUE_SQLITE: &str = "DELETE FROM scheduled_job WHERE rowid IN (\
    SELECT rowid FROM scheduled_job WHERE due_at <= $1 ORDER BY due_at LIMIT $2) \
    RETURNING order_id";

/// [`TAKE_DUE_SQLITE`] for PostgreSQL: `SKIP LOCKED` lets replicas firing at the same
/// moment each take different jobs.
pub const TAKE_DUE_POSTGRES: &str = "DELETE FROM scheduled_job WHERE (order_id, due_at) IN (\
    SELECT order_id, due_at FROM scheduled_job WHERE due_at <= $1 ORDER BY due_at LIMIT $2 \
    FOR UPDATE SKIP LOCKED) RETURNING order_id";

/// [`TAKE_DUE_SQLITE`] or [`TAKE_DUE_POSTGRES`], bound.
pub fn take_due<DB: Database>(
    statement: &'static str,
    now: OffsetDateTime,
    limit: u32,
) -> Scalar<DB, DbId>
where
    DbTime: Bind<DB>,
    i64: Bind<DB>,
    (DbId,): for<'r> FromRow<'r, DB::Row>,
{
    sqlx::query_scalar(statement)
        .bind(DbTime(now))
        .bind(i64::from(limit))
}
