//! Users in the distributed mode's PostgreSQL database.

use std::sync::Arc;

use anyhow::Context;
use boxoffice_platform::store::Plumbing;
use sqlx::postgres::PgPool;
use time::OffsetDateTime;

use super::sql;
use super::{InsertUserError, UserStore, insert_error};
use crate::domain::{Email, User};

#[derive(Debug, Clone)]
pub struct PostgresUserStore {
    pool: PgPool,
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
    pub async fn open(pool: PgPool) -> anyhow::Result<Self> {
        Self::migrate(&pool).await?;
        Ok(Self { pool })
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

    fn plumbing(&self) -> Arc<dyn Plumbing> {
        Arc::new(self.pool.clone())
    }
}
