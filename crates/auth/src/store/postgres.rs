//! Users in the distributed mode's PostgreSQL database.

use std::sync::Arc;

use anyhow::Context;
use boxoffice_common::events::{SessionRevoked, UserSignedOutEverywhere};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::store::Plumbing;
use sqlx::postgres::PgPool;
use time::OffsetDateTime;
use tokio::sync::Notify;

/// Revoked sessions are forgotten this long after their tokens would have expired.
const SWEEP_MARGIN: std::time::Duration = std::time::Duration::from_secs(60 * 60);

use super::sql;
use super::{EndedSessions, InsertUserError, UserStore, insert_error};
use crate::domain::{Email, User};

#[derive(Debug, Clone)]
pub struct PostgresUserStore {
    pool: PgPool,
    /// Told after each commit that wrote to the outbox, so the relay publishes at once.
    outbox_written: Arc<Notify>,
}

impl PostgresUserStore {
    /// Brings the schema up to date. Safe to call from several replicas at once:
    /// sqlx takes an advisory lock around migrations.
    pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
        sqlx::migrate!("migrations/postgres")
            .run(pool)
            .await
            .context("migrating the auth PostgreSQL database")
    }

    /// Migrates, then opens the store.
    pub async fn open(pool: PgPool, outbox_written: Arc<Notify>) -> anyhow::Result<Self> {
        Self::migrate(&pool).await?;
        Ok(Self {
            pool,
            outbox_written,
        })
    }
}

#[async_trait::async_trait]
impl UserStore for PostgresUserStore {
    async fn insert(&self, user: &User) -> Result<(), InsertUserError> {
        sql::insert_user(user)
            .execute(&self.pool)
            .await
            .map_err(insert_error)?;
        Ok(())
    }

    async fn find_by_email(&self, email: &Email) -> anyhow::Result<Option<User>> {
        let row = sql::user_by_email(email).fetch_optional(&self.pool).await;
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
        let mut tx = self.pool.begin().await?;
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
            .fetch_all(&self.pool)
            .await?;
        Ok(times.into_iter().map(OffsetDateTime::from).collect())
    }

    async fn clear_signin_failures(&self, email: &Email) -> anyhow::Result<()> {
        sql::clear_failures(email).execute(&self.pool).await?;
        Ok(())
    }

    async fn revoke_session(
        &self,
        revoked: &SessionRevoked,
        event: &Envelope,
    ) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        sql::forget_revoked_before(OffsetDateTime::now_utc() - SWEEP_MARGIN)
            .execute(&mut *tx)
            .await?;
        sql::revoke_session(revoked).execute(&mut *tx).await?;
        boxoffice_platform::outbox::postgres::enqueue(&mut tx, event).await?;
        tx.commit().await.context("revoking a session")?;
        self.outbox_written.notify_one();
        Ok(())
    }

    async fn sign_out_everywhere(
        &self,
        signed_out: &UserSignedOutEverywhere,
        event: &Envelope,
    ) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        sql::sign_out_everywhere(signed_out)
            .execute(&mut *tx)
            .await?;
        boxoffice_platform::outbox::postgres::enqueue(&mut tx, event).await?;
        tx.commit().await.context("signing out everywhere")?;
        self.outbox_written.notify_one();
        Ok(())
    }

    async fn ended_sessions(
        &self,
        now: OffsetDateTime,
        max_ttl: std::time::Duration,
    ) -> anyhow::Result<EndedSessions> {
        let revoked = sql::revoked_sessions(now).fetch_all(&self.pool).await?;
        let signed_out = sql::signed_out_everywhere(now - max_ttl)
            .fetch_all(&self.pool)
            .await?;
        Ok(EndedSessions::from_rows(revoked, signed_out))
    }

    fn plumbing(&self) -> Arc<dyn Plumbing> {
        Arc::new(self.pool.clone())
    }
}
