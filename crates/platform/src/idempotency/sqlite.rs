//! Idempotency keys in a service's SQLite file (`idempotency_keys` table).

use boxoffice_common::Id;
use sqlx::Row;
use time::OffsetDateTime;

use super::{IdempotencyKeys, KEY_LIFETIME, KeyState, key_state};
use crate::db::sqlite::{SqliteDb, time_text};

#[derive(Debug, Clone)]
pub struct SqliteKeys {
    db: SqliteDb,
}

impl SqliteKeys {
    pub fn new(db: SqliteDb) -> Self {
        Self { db }
    }
}

#[async_trait::async_trait]
impl IdempotencyKeys for SqliteKeys {
    async fn claim_key(
        &self,
        user: Id,
        key: &str,
        request_hash: &str,
        now: OffsetDateTime,
    ) -> anyhow::Result<KeyState> {
        let mut tx = self.db.begin_write().await?;
        // Expired keys are forgotten first, so they can be used afresh.
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE user_id = ? AND key = ? AND created_at < ?",
        )
        .bind(user.to_string())
        .bind(key)
        .bind(time_text(now - KEY_LIFETIME))
        .execute(&mut *tx)
        .await?;
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (user_id, key, request_hash, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(user.to_string())
        .bind(key)
        .bind(request_hash)
        .bind(time_text(now))
        .execute(&mut *tx)
        .await?;
        let state = if inserted.rows_affected() == 1 {
            KeyState::Fresh
        } else {
            let row = sqlx::query("SELECT request_hash, status_code, body FROM idempotency_keys WHERE user_id = ? AND key = ?")
                .bind(user.to_string())
                .bind(key)
                .fetch_one(&mut *tx)
                .await?;
            key_state(
                &row.try_get::<String, _>("request_hash")?,
                request_hash,
                row.try_get("status_code")?,
                row.try_get("body")?,
            )
        };
        tx.commit().await?;
        Ok(state)
    }

    async fn finish_key(&self, user: Id, key: &str, status: u16, body: &str) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE idempotency_keys SET status_code = ?, body = ? WHERE user_id = ? AND key = ?",
        )
        .bind(i64::from(status))
        .bind(body)
        .bind(user.to_string())
        .bind(key)
        .execute(&self.db.writer)
        .await?;
        Ok(())
    }

    async fn release_key(&self, user: Id, key: &str) -> anyhow::Result<()> {
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE user_id = ? AND key = ? AND status_code IS NULL",
        )
        .bind(user.to_string())
        .bind(key)
        .execute(&self.db.writer)
        .await?;
        Ok(())
    }
}
