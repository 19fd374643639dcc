//! Users in the embedded mode's SQLite file.

use anyhow::Context;
use boxoffice_platform::db::sqlite::{SqliteDb, parse_time, time_text};
use sqlx::Row;
use time::OffsetDateTime;

use super::{InsertUserError, UserStore, insert_error};
use crate::domain::{Email, User};

#[derive(Debug, Clone)]
pub struct SqliteUserStore {
    db: SqliteDb,
}

impl SqliteUserStore {
    /// Opens the store and brings its schema up to date.
    pub async fn open(db: SqliteDb) -> anyhow::Result<Self> {
        sqlx::migrate!("migrations/sqlite")
            .run(&db.writer)
            .await
            .context("migrating the auth SQLite database")?;
        Ok(Self { db })
    }
}

#[async_trait::async_trait]
impl UserStore for SqliteUserStore {
    async fn insert(&self, user: &User) -> Result<(), InsertUserError> {
        let created_at = time_text(user.created_at);
        sqlx::query("INSERT INTO users (id, email, password_hash, created_at) VALUES (?, ?, ?, ?)")
            .bind(user.id.to_string())
            .bind(user.email.as_str())
            .bind(&user.password_hash)
            .bind(created_at)
            .execute(&self.db.writer)
            .await
            .map_err(insert_error)?;
        Ok(())
    }

    async fn find_by_email(&self, email: &Email) -> anyhow::Result<Option<User>> {
        let row = sqlx::query(
            "SELECT id, email, password_hash, created_at FROM users WHERE lower(email) = ?",
        )
        .bind(email.as_str())
        .fetch_optional(&self.db.reader)
        .await
        .context("looking up user by email")?;
        row.map(|row| {
            let id: String = row.try_get("id")?;
            let email: String = row.try_get("email")?;
            let created_at: String = row.try_get("created_at")?;
            Ok(User {
                id: id.parse().context("stored user id")?,
                email: Email::parse(&email).context("stored email")?,
                password_hash: row.try_get("password_hash")?,
                created_at: parse_time(&created_at)?,
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
        let mut tx = self.db.begin_write().await?;
        sqlx::query("DELETE FROM signin_failures WHERE at < ?")
            .bind(time_text(forget_before))
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO signin_failures (email, at) VALUES (?, ?)")
            .bind(email.as_str())
            .bind(time_text(at))
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
            sqlx::query("SELECT at FROM signin_failures WHERE email = ? AND at >= ? ORDER BY at")
                .bind(email.as_str())
                .bind(time_text(since))
                .fetch_all(&self.db.reader)
                .await?;
        rows.iter()
            .map(|row| parse_time(&row.try_get::<String, _>(0)?))
            .collect()
    }

    async fn clear_signin_failures(&self, email: &Email) -> anyhow::Result<()> {
        sqlx::query("DELETE FROM signin_failures WHERE email = ?")
            .bind(email.as_str())
            .execute(&self.db.writer)
            .await?;
        Ok(())
    }

    async fn ping(&self) -> anyhow::Result<()> {
        Ok(self.db.ping().await?)
    }
}
