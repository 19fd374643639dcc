//! Users in the embedded mode's SQLite file: writes on the one writer connection, reads
//! on the reader pool.

use std::sync::Arc;

use anyhow::Context;
use boxoffice_platform::db::sqlite::SqliteDb;
use boxoffice_platform::store::Plumbing;
use time::OffsetDateTime;

use super::sql;
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

    fn plumbing(&self) -> Arc<dyn Plumbing> {
        Arc::new(self.db.clone())
    }
}
