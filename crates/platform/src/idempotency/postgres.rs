//! Idempotency keys in a service's PostgreSQL database (`idempotency_keys` table).

use boxoffice_common::Id;
use sqlx::Row;
use sqlx::postgres::PgPool;
use time::OffsetDateTime;

use super::{IdempotencyKeys, KEY_LIFETIME, KeyState, key_state};

#[derive(Debug, Clone)]
pub struct PostgresKeys {
    pool: PgPool,
}

impl PostgresKeys {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[async_trait::async_trait]
impl IdempotencyKeys for PostgresKeys {
    async fn claim_key(
        &self,
        user: Id,
        key: &str,
        request_hash: &str,
        now: OffsetDateTime,
    ) -> anyhow::Result<KeyState> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND created_at < $3",
        )
        .bind(user)
        .bind(key)
        .bind(now - KEY_LIFETIME)
        .execute(&mut *tx)
        .await?;
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (user_id, key, request_hash, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(user)
        .bind(key)
        .bind(request_hash)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let state = if inserted.rows_affected() == 1 {
            KeyState::Fresh
        } else {
            let row = sqlx::query("SELECT request_hash, status_code, body FROM idempotency_keys WHERE user_id = $1 AND key = $2")
                .bind(user)
                .bind(key)
                .fetch_one(&mut *tx)
                .await?;
            let status: Option<i32> = row.try_get("status_code")?;
            key_state(
                &row.try_get::<String, _>("request_hash")?,
                request_hash,
                status.map(i64::from),
                row.try_get("body")?,
            )
        };
        tx.commit().await?;
        Ok(state)
    }

    async fn finish_key(&self, user: Id, key: &str, status: u16, body: &str) -> anyhow::Result<()> {
        sqlx::query("UPDATE idempotency_keys SET status_code = $1, body = $2 WHERE user_id = $3 AND key = $4")
            .bind(i32::from(status))
            .bind(body)
            .bind(user)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn release_key(&self, user: Id, key: &str) -> anyhow::Result<()> {
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND status_code IS NULL",
        )
        .bind(user)
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
