//! Users in the embedded mode's SQLite file: writes on the one writer connection, reads
//! on the reader pool.

use std::sync::Arc;

use anyhow::Context;
use boxoffice_common::events::{SessionRevoked, UserSignedOutEverywhere};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::db::sqlite::SqliteDb;
use boxoffice_platform::store::Plumbing;
use time::OffsetDateTime;
use tokio::sync::Notify;

/// Revoked sessions are forgotten this long after their tokens would have expired.
const SWEEP_MARGIN: std::time::Duration = std::time::Duration::from_secs(60 * 60);

use super::sql;
use super::{EndedSessions, InsertUserError, UserStore, insert_error};
use crate::domain::{Email, User};

#[derive(Debug, Clone)]
pub struct SqliteUserStore {
    db: SqliteDb,
    /// Told after each commit that wrote to the outbox, so the relay publishes at once.
    outbox_written: Arc<Notify>,
}

impl SqliteUserStore {
    /// Opens the store and brings its schema up to date.
    pub async fn open(db: SqliteDb, outbox_written: Arc<Notify>) -> anyhow::Result<Self> {
        sqlx::migrate!("migrations/sqlite")
            .run(&db.writer)
            .await
            .context("migrating the auth SQLite database")?;
        Ok(Self { db, outbox_written })
    }
}

#[async_trait::async_trait]
impl UserStore for SqliteUserStore {
    async fn insert(&self, user: &User) -> Result<(), InsertUserError> {
        sql::insert_user(user)
            .execute(&self.db.writer)
            .await
            .map_err(insert_error)?;
        Ok(())
    }

    async fn find_by_email(&self, email: &Email) -> anyhow::Result<Option<User>> {
        let row = sql::user_by_email(email)
            .fetch_optional(&self.db.reader)
            .await;
        row.context("looking up user by email")?
            .map(User::try_from)
            .transpose()
    }

    async fn record_signin_failure(
        &self,
        email: &Email,
        at: OffsetDateTime,
        forget_before: OffsetDateTime,
    ) -> anyhow::Result<()> {
        let mut tx = self.db.begin_write().await?;
        sql::forget_failures_before(forget_before)
            .execute(&mut *tx)
            .await?;
        sql::record_failure(email, at).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn signin_failures(
        &self,
        email: &Email,
        since: OffsetDateTime,
    ) -> anyhow::Result<Vec<OffsetDateTime>> {
        let times = sql::failures_since(email, since)
            .fetch_all(&self.db.reader)
            .await?;
        Ok(times.into_iter().map(OffsetDateTime::from).collect())
    }

    async fn clear_signin_failures(&self, email: &Email) -> anyhow::Result<()> {
        sql::clear_failures(email).execute(&self.db.writer).await?;
        Ok(())
    }

    async fn revoke_session(
        &self,
        revoked: &SessionRevoked,
        event: &Envelope,
    ) -> anyhow::Result<()> {
        let mut tx = self.db.begin_write().await?;
        sql::forget_revoked_before(OffsetDateTime::now_utc() - SWEEP_MARGIN)
            .execute(&mut *tx)
            .await?;
        sql::revoke_session(revoked).execute(&mut *tx).await?;
        boxoffice_platform::outbox::sqlite::enqueue(&mut tx, event).await?;
        tx.commit().await.context("revoking a session")?;
        self.outbox_written.notify_one();
        Ok(())
    }

    async fn sign_out_everywhere(
        &self,
        signed_out: &UserSignedOutEverywhere,
        event: &Envelope,
    ) -> anyhow::Result<()> {
        let mut tx = self.db.begin_write().await?;
        sql::sign_out_everywhere(signed_out)
            .execute(&mut *tx)
            .await?;
        boxoffice_platform::outbox::sqlite::enqueue(&mut tx, event).await?;
        tx.commit().await.context("signing out everywhere")?;
        self.outbox_written.notify_one();
        Ok(())
    }

    async fn ended_sessions(
        &self,
        now: OffsetDateTime,
        max_ttl: std::time::Duration,
    ) -> anyhow::Result<EndedSessions> {
        let revoked = sql::revoked_sessions(now)
            .fetch_all(&self.db.reader)
            .await?;
        let signed_out = sql::signed_out_everywhere(now - max_ttl)
            .fetch_all(&self.db.reader)
            .await?;
        Ok(EndedSessions::from_rows(revoked, signed_out))
    }

    fn plumbing(&self) -> Arc<dyn Plumbing> {
        Arc::new(self.db.clone())
    }
}
