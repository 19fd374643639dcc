//! Every statement of the auth store, written and bound once for both databases.
//!
//! `$n` placeholders work on sqlx's SQLite driver too, and [`DbId`]/[`DbTime`] bind and
//! read as text on SQLite and as `UUID`/`TIMESTAMPTZ` on PostgreSQL. So each statement
//! is built here, generic over the database, and the two stores only choose where it
//! runs: SQLite's writer or reader pool and `BEGIN IMMEDIATE`, or PostgreSQL's pool.

use anyhow::Context;
use boxoffice_platform::db::{Bind, DbId, DbTime};
use sqlx::query::{Query, QueryAs, QueryScalar};
use sqlx::{Database, FromRow};
use time::OffsetDateTime;

use crate::domain::{Email, User};

/// A statement with its arguments, ready to run on either database.
pub type Statement<DB> = Query<'static, DB, <DB as Database>::Arguments>;

pub fn insert_user<DB: Database>(user: &User) -> Statement<DB>
where
    DbId: Bind<DB>,
    DbTime: Bind<DB>,
    String: Bind<DB>,
{
    sqlx::query("INSERT INTO users (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)")
        .bind(DbId(user.id))
        .bind(user.email.as_str().to_owned())
        .bind(user.password_hash.clone())
        .bind(DbTime(user.created_at))
}

/// Emails are stored lower-cased; `lower(email)` is what the unique index covers, so
/// the look-up uses that index.
pub fn user_by_email<DB: Database>(
    email: &Email,
) -> QueryAs<'static, DB, UserRow, <DB as Database>::Arguments>
where
    String: Bind<DB>,
    UserRow: for<'r> FromRow<'r, DB::Row>,
{
    sqlx::query_as("SELECT id, email, password_hash, created_at FROM users WHERE lower(email) = $1")
        .bind(email.as_str().to_owned())
}

pub fn forget_failures_before<DB: Database>(before: OffsetDateTime) -> Statement<DB>
where
    DbTime: Bind<DB>,
{
    sqlx::query("DELETE FROM signin_failures WHERE at < $1").bind(DbTime(before))
}

pub fn record_failure<DB: Database>(email: &Email, at: OffsetDateTime) -> Statement<DB>
where
    DbTime: Bind<DB>,
    String: Bind<DB>,
{
    sqlx::query("INSERT INTO signin_failures (email, at) VALUES ($1, $2)")
        .bind(email.as_str().to_owned())
        .bind(DbTime(at))
}

pub fn failures_since<DB: Database>(
    email: &Email,
    since: OffsetDateTime,
) -> QueryScalar<'static, DB, DbTime, <DB as Database>::Arguments>
where
    (DbTime,): for<'r> FromRow<'r, DB::Row>,
    DbTime: Bind<DB>,
    String: Bind<DB>,
{
    sqlx::query_scalar("SELECT at FROM signin_failures WHERE email = $1 AND at >= $2 ORDER BY at")
        .bind(email.as_str().to_owned())
        .bind(DbTime(since))
}

pub fn clear_failures<DB: Database>(email: &Email) -> Statement<DB>
where
    String: Bind<DB>,
{
    sqlx::query("DELETE FROM signin_failures WHERE email = $1").bind(email.as_str().to_owned())
}

/// A `users` row as either database returns it.
#[derive(Debug, sqlx::FromRow)]
pub struct UserRow {
    id: DbId,
    email: String,
    password_hash: String,
    created_at: DbTime,
}

impl TryFrom<UserRow> for User {
    type Error = anyhow::Error;

    fn try_from(row: UserRow) -> anyhow::Result<Self> {
        Ok(User {
            id: row.id.into(),
            email: Email::parse(&row.email).context("stored email")?,
            password_hash: row.password_hash,
            created_at: row.created_at.into(),
        })
    }
}
