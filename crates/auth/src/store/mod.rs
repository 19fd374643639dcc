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

use boxoffice_common::events::{SessionRevoked, UserSignedOutEverywhere};
use boxoffice_platform::bus::Envelope;
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
    /// Ends one session and queues `event` (its `session:revoked`) in the outbox, in one
    /// transaction.
    async fn revoke_session(
        &self,
        revoked: &SessionRevoked,
        event: &Envelope,
    ) -> anyhow::Result<()>;
    /// Ends every session of a user started until `valid_after` and queues `event` (its
    /// `user:signed-out-everywhere`), in one transaction.
    async fn sign_out_everywhere(
        &self,
        signed_out: &UserSignedOutEverywhere,
        event: &Envelope,
    ) -> anyhow::Result<()>;
    /// What is still ended at `now`: revoked sessions whose tokens have not expired, and
    /// the "signed out everywhere" moments later than `now - max_ttl`.
    async fn ended_sessions(
        &self,
        now: OffsetDateTime,
        max_ttl: std::time::Duration,
    ) -> anyhow::Result<EndedSessions>;
    /// The database underneath: `/readyz` (its `ping`) and the outbox of the session
    /// events. Auth consumes no events, so its inbox stays empty.
    fn plumbing(&self) -> Arc<dyn Plumbing>;
}

/// The sessions a process must refuse, as the auth store knows them.
#[derive(Debug, Default)]
pub struct EndedSessions {
    pub revoked: Vec<SessionRevoked>,
    pub signed_out: Vec<UserSignedOutEverywhere>,
}

impl std::fmt::Debug for dyn UserStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UserStore")
    }
}

impl EndedSessions {
    fn from_rows(
        revoked: Vec<(
            boxoffice_platform::db::DbId,
            boxoffice_platform::db::DbId,
            boxoffice_platform::db::DbTime,
        )>,
        signed_out: Vec<(boxoffice_platform::db::DbId, boxoffice_platform::db::DbTime)>,
    ) -> Self {
        Self {
            revoked: revoked
                .into_iter()
                .map(|(sid, user_id, expires_at)| SessionRevoked {
                    sid: sid.into(),
                    user_id: user_id.into(),
                    expires_at: expires_at.into(),
                })
                .collect(),
            signed_out: signed_out
                .into_iter()
                .map(|(user_id, valid_after)| UserSignedOutEverywhere {
                    user_id: user_id.into(),
                    valid_after: valid_after.into(),
                })
                .collect(),
        }
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
