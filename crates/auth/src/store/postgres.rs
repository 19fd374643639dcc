//! Users in the distributed mode's PostgreSQL database.

use anyhow::Context;
use sqlx::Row;
use sqlx::postgres::PgPool;
use time::OffsetDateTime;

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
        sqlx::query(
            "INSERT INTO users (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(user.id)
        .bind(user.email.as_str())
        .bind(&user.password_hash)
        .bind(user.created_at)
        .execute(&self.pool)
        .await
        .map_err(insert_error)?;
        Ok(())
    }

    async fn find_by_email(&self, email: &Email) -> anyhow::Result<Option<User>> {
        let row = sqlx::query(
            "SELECT id, email, password_hash, created_at FROM users WHERE lower(email) = $1",
        )
        .bind(email.as_str())
        .fetch_optional(&self.pool)
        .await
        .context("looking up user by email")?;
        row.map(|row| {
            let email: String = row.try_get("email")?;
            Ok(User {
                id: row.try_get("id")?,
                email: Email::parse(&email).context("stored email")?,
                password_hash: row.try_get("password_hash")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .transpose()
    }

    async fn record_signin_failure(
        &self,
        email: &Email,
        at: OffsetDateTime,
        forget_before: OffsetDateTime,
    ) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM signin_failures WHERE at < $1")
            .bind(forget_before)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO signin_failures (email, at) VALUES ($1, $2)")
            .bind(email.as_str())
            .bind(at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn signin_failures(
        &self,
        email: &Email,
        since: OffsetDateTime,
    ) -> anyhow::Result<Vec<OffsetDateTime>> {
        let rows =
            sqlx::query("SELECT at FROM signin_failures WHERE email = $1 AND at >= $2 ORDER BY at")
                .bind(email.as_str())
                .bind(since)
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(|row| Ok(row.try_get(0)?)).collect()
    }

    async fn clear_signin_failures(&self, email: &Email) -> anyhow::Result<()> {
        sqlx::query("DELETE FROM signin_failures WHERE email = $1")
            .bind(email.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn ping(&self) -> anyhow::Result<()> {
        Ok(boxoffice_platform::db::postgres::ping(&self.pool).await?)
    }
}
