//! Where users are kept: one trait, one implementation per database.
//!
//! * [`sql`] — every statement and the `users` row, written once for both databases.
//! * `sqlite` / `postgres` — [`SqliteUserStore`] and [`PostgresUserStore`]: where each
//!   statement runs, and the write transaction per database.

mod postgres;
mod sql;
mod sqlite;

pub use postgres::PostgresUserStore;
pub use sqlite::SqliteUserStore;

use std::sync::Arc;

use boxoffice_platform::store::Plumbing;
use time::OffsetDateTime;

use crate::domain::{Email, User};

/// Why a user could not be inserted.
#[derive(Debug, thiserror::Error)]
pub enum InsertUserError {
    /// The database's unique index on `lower(email)` refused the row.
    #[error("email already in use")]
    EmailTaken,
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Persistence for accounts. Implementations must enforce email uniqueness in the
/// database itself, so that concurrent sign-ups cannot both succeed.
#[async_trait::async_trait]
pub trait UserStore: Send + Sync + 'static {
    async fn insert(&self, user: &User) -> Result<(), InsertUserError>;
    async fn find_by_email(&self, email: &Email) -> anyhow::Result<Option<User>>;
    /// Records a failed sign-in for `email` and forgets failures older than
    /// `forget_before`, for every email.
    async fn record_signin_failure(
        &self,
        email: &Email,
        at: OffsetDateTime,
        forget_before: OffsetDateTime,
    ) -> anyhow::Result<()>;
    /// Failed sign-ins for `email` since `since`, oldest first.
    async fn signin_failures(
        &self,
        email: &Email,
        since: OffsetDateTime,
    ) -> anyhow::Result<Vec<OffsetDateTime>>;
    /// Forgets the failures of `email` (after a successful sign-in).
    async fn clear_signin_failures(&self, email: &Email) -> anyhow::Result<()>;
    /// The database underneath, for `/readyz` (its `ping`). Auth publishes and consumes
    /// no events, so its schema has no outbox, inbox or dead letters: nothing may call
    /// the other [`Plumbing`] methods on it, and the entry point registers no `.events`.
    fn plumbing(&self) -> Arc<dyn Plumbing>;
}

impl std::fmt::Debug for dyn UserStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UserStore")
    }
}

/// Maps a unique-index violation to [`InsertUserError::EmailTaken`]: the index on
/// `lower(email)` is what settles two concurrent sign-ups for one address.
fn insert_error(err: sqlx::Error) -> InsertUserError {
    if boxoffice_platform::db::is_unique_violation(&err) {
        InsertUserError::EmailTaken
    } else {
        InsertUserError::Other(anyhow::Error::new(err).context("inserting user"))
    }
}
