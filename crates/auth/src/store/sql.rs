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

use boxoffice_common::events::{SessionRevoked, UserSignedOutEverywhere};

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

/// Ends one session; a second sign-out of the same session changes nothing.
pub fn revoke_session<DB: Database>(revoked: &SessionRevoked) -> Statement<DB>
where
    DbId: Bind<DB>,
    DbTime: Bind<DB>,
{
    sqlx::query(
        "INSERT INTO revoked_session (sid, user_id, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT (sid) DO NOTHING",
    )
    .bind(DbId(revoked.sid))
    .bind(DbId(revoked.user_id))
    .bind(DbTime(revoked.expires_at))
}

/// Moves the moment before which every session of the user is over.
pub fn sign_out_everywhere<DB: Database>(signed_out: &UserSignedOutEverywhere) -> Statement<DB>
where
    DbId: Bind<DB>,
    DbTime: Bind<DB>,
{
    sqlx::query(
        "INSERT INTO signed_out_everywhere (user_id, valid_after) VALUES ($1, $2) \
         ON CONFLICT (user_id) DO UPDATE SET valid_after = excluded.valid_after",
    )
    .bind(DbId(signed_out.user_id))
    .bind(DbTime(signed_out.valid_after))
}

/// Forgets revoked sessions whose tokens have expired anyway.
pub fn forget_revoked_before<DB: Database>(before: OffsetDateTime) -> Statement<DB>
where
    DbTime: Bind<DB>,
{
    sqlx::query("DELETE FROM revoked_session WHERE expires_at < $1").bind(DbTime(before))
}

/// Revoked sessions whose tokens have not expired yet.
pub fn revoked_sessions<DB: Database>(
    now: OffsetDateTime,
) -> QueryAs<'static, DB, (DbId, DbId, DbTime), <DB as Database>::Arguments>
where
    DbTime: Bind<DB>,
    (DbId, DbId, DbTime): for<'r> FromRow<'r, DB::Row>,
{
    sqlx::query_as("SELECT sid, user_id, expires_at FROM revoked_session WHERE expires_at >= $1")
        .bind(DbTime(now))
}

/// Every user's "signed out everywhere" moment since `since` (older ones can only match
/// expired tokens).
pub fn signed_out_everywhere<DB: Database>(
    since: OffsetDateTime,
) -> QueryAs<'static, DB, (DbId, DbTime), <DB as Database>::Arguments>
where
    DbTime: Bind<DB>,
    (DbId, DbTime): for<'r> FromRow<'r, DB::Row>,
{
    sqlx::query_as("SELECT user_id, valid_after FROM signed_out_everywhere WHERE valid_after >= $1")
        .bind(DbTime(since))
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
