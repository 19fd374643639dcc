//! Where users are kept: one trait, one implementation per database.

mod postgres;
mod sqlite;

pub use postgres::PostgresUserStore;
pub use sqlite::SqliteUserStore;

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
    /// Reachability, for `/readyz`.
    async fn ping(&self) -> anyhow::Result<()>;
}

/// Maps a unique-index violation to [`InsertUserError::EmailTaken`].
fn insert_error(err: sqlx::Error) -> InsertUserError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => InsertUserError::EmailTaken,
        _ => InsertUserError::Other(anyhow::Error::new(err).context("inserting user")),
    }
}
