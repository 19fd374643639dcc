//! The queue's events in Redis: the outbox the commit script writes and the relay reads,
//! the dead letters, and the ping — the store's [`Plumbing`].

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use boxoffice_common::Id;
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::outbox::{OutboxStore, Pending};
use boxoffice_platform::store::Plumbing;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use time::OffsetDateTime;

use super::keys::{Keys, millis};
use super::writes::Scripts;

/// The outbox, dead letters and reachability of the queue's Redis.
#[derive(Clone)]
pub(super) struct RedisEvents {
    pub(super) conn: ConnectionManager,
    pub(super) keys: Keys,
    pub(super) scripts: Arc<Scripts>,
}

#[async_trait::async_trait]
impl Plumbing for RedisEvents {
    async fn park(&self, consumer: &str, event: &Envelope, reason: &str) -> anyhow::Result<()> {
        let mut conn = self.conn.clone();
        let letter = serde_json::json!({ "envelope": event, "reason": reason });
        let _: bool = conn
            .hset_nx(
                self.keys.named("dead"),
                format!("{consumer}:{}", event.id),
                letter.to_string(),
            )
            .await?;
        Ok(())
    }

    async fn dead_letters(&self, consumer: &str) -> anyhow::Result<Vec<(Envelope, String)>> {
        let mut conn = self.conn.clone();
        let all: Vec<(String, String)> = conn.hgetall(self.keys.named("dead")).await?;
        let mut letters = Vec::new();
        for (key, letter) in all {
            if key.split_once(':').is_some_and(|(c, _)| c == consumer) {
                let mut letter: serde_json::Value = serde_json::from_str(&letter)?;
                let reason = letter["reason"].as_str().unwrap_or_default().to_owned();
                letters.push((serde_json::from_value(letter["envelope"].take())?, reason));
            }
        }
        Ok(letters)
    }

    fn outbox(&self) -> Arc<dyn OutboxStore> {
        Arc::new(self.clone())
    }

    async fn ping(&self) -> anyhow::Result<()> {
        let mut conn = self.conn.clone();
        let _: String = redis::cmd("PING").query_async(&mut conn).await?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl OutboxStore for RedisEvents {
    async fn unsent_after(&self, after: i64, limit: u32) -> anyhow::Result<Vec<Pending>> {
        let mut conn = self.conn.clone();
        let rows: Vec<(String, f64)> = conn
            .zrangebyscore_limit_withscores(
                self.keys.named("ob"),
                format!("({after}"),
                "+inf",
                0,
                limit as isize,
            )
            .await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = rows.iter().map(|(id, _)| id.as_str()).collect();
        let bodies: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(self.keys.named("ob:ev"))
            .arg(&ids)
            .query_async(&mut conn)
            .await?;
        rows.iter()
            .zip(bodies)
            .filter_map(|((_, seq), body)| body.map(|body| (*seq as i64, body)))
            .map(|(seq, body)| {
                Ok(Pending {
                    seq,
                    event: serde_json::from_str(&body).context("reading an outbox envelope")?,
                })
            })
            .collect()
    }

    async fn backlog(&self) -> anyhow::Result<(u64, Option<Id>)> {
        let mut conn = self.conn.clone();
        let outbox = self.keys.named("ob");
        let pending: u64 = conn.zcard(&outbox).await?;
        let oldest: Vec<String> = conn.zrange(&outbox, 0, 0).await?;
        Ok((pending, oldest.first().and_then(|id| id.parse().ok())))
    }

    fn commits_in_seq_order(&self) -> bool {
        // Scripts run one at a time and take their position inside the script.
        true
    }

    async fn mark_sent(&self, ids: &[Id]) -> anyhow::Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn.clone();
        let mut invocation = self.scripts.mark_sent.prepare_invoke();
        invocation
            .key(self.keys.named("ob"))
            .key(self.keys.named("ob:sent"))
            .arg(millis(OffsetDateTime::now_utc()));
        for id in ids {
            invocation.arg(id.to_string());
        }
        let _: i64 = invocation.invoke_async(&mut conn).await?;
        Ok(())
    }

    async fn purge_sent(&self, older_than: Duration) -> anyhow::Result<u64> {
        let mut conn = self.conn.clone();
        let cutoff = OffsetDateTime::now_utc() - older_than;
        let purged: u64 = self
            .scripts
            .purge_sent
            .key(self.keys.named("ob:sent"))
            .key(self.keys.named("ob:ev"))
            .arg(millis(cutoff))
            .invoke_async(&mut conn)
            .await?;
        Ok(purged)
    }

    async fn republish_since(&self, since: OffsetDateTime) -> anyhow::Result<u64> {
        let mut conn = self.conn.clone();
        let moved: u64 = self
            .scripts
            .republish
            .key(self.keys.named("ob:sent"))
            .key(self.keys.named("ob"))
            .key(self.keys.named("ob:seq"))
            .arg(millis(since))
            .invoke_async(&mut conn)
            .await?;
        Ok(moved)
    }
}
