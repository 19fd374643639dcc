//! Lines in Redis, shared by every queue replica of the distributed mode.
//!
//! Keys, all under one prefix (a deployment's, or a test's own):
//! * `{p}:t:{ticket}` — hash `v` (version) and `s` (the ticket's state as JSON);
//! * `{p}:l:{ticket}` — sorted set: the line, scored by a global arrival counter `{p}:seq`,
//!   so rank is place and arrival order is strict;
//! * `{p}:turns` — sorted set of tickets by the end of their running turn (ms);
//! * `{p}:in:{consumer}:{event}` — inbox entries, kept for a week;
//! * `{p}:ob` / `{p}:ob:ev` / `{p}:ob:seq` / `{p}:ob:sent` — the outbox: unsent event ids by
//!   position, their envelopes, the position counter, sent ids by time;
//! * `{p}:dead` — dead letters; `{p}:changes` — pub/sub channel of changed tickets.
//!
//! A change reads a consistent snapshot (`MULTI`), runs the rule in Rust, and commits with
//! one Lua script that first checks the ticket's version: if another replica got there
//! first nothing is written and the rule runs again on fresh data. State, line, outbox and
//! inbox therefore change together or not at all, as in a SQL transaction. Key names span
//! hash slots, so this targets a single Redis (or a primary with replicas), not Cluster.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use boxoffice_common::Id;
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::outbox::{OutboxStore, Pending};
use futures::StreamExt;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use time::OffsetDateTime;
use tokio::sync::{Notify, broadcast};

use super::{Change, Claim, Modified, QueueStore, Snapshot, change_feed, decide};
use crate::domain::{FRONT, Line, LineOp, QueueError, TicketState};

/// How long a consumer remembers an event it handled. Far beyond any redelivery.
const INBOX_TTL_SECONDS: u64 = 7 * 24 * 3600;
/// Optimistic retries before a change gives up (only under extreme contention).
const MAX_ATTEMPTS: u32 = 64;

const COMMIT: &str = r"
local v = redis.call('HGET', KEYS[1], 'v') or '0'
if v ~= ARGV[1] then return 0 end
if ARGV[6] ~= '' then
  if not redis.call('SET', KEYS[8], '1', 'NX', 'EX', ARGV[6]) then return 2 end
end
local nops = tonumber(ARGV[8])
local i = 9
for _ = 1, nops do
  local kind, user = ARGV[i], ARGV[i + 1]
  i = i + 2
  if kind == 'push' then
    redis.call('ZADD', KEYS[2], 'NX', redis.call('INCR', KEYS[4]), user)
  elseif kind == 'remove' then
    redis.call('ZREM', KEYS[2], user)
  else
    redis.call('DEL', KEYS[2])
  end
end
while i <= #ARGV do
  redis.call('ZADD', KEYS[5], redis.call('INCR', KEYS[7]), ARGV[i])
  redis.call('HSET', KEYS[6], ARGV[i], ARGV[i + 1])
  i = i + 2
end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 's', ARGV[3])
if ARGV[5] == '' then
  redis.call('ZREM', KEYS[3], ARGV[4])
else
  redis.call('ZADD', KEYS[3], ARGV[5], ARGV[4])
end
redis.call('PUBLISH', ARGV[7], ARGV[4])
return 1
";

const MARK_SENT: &str = r"
for i = 2, #ARGV do
  if redis.call('ZREM', KEYS[1], ARGV[i]) == 1 then
    redis.call('ZADD', KEYS[2], ARGV[1], ARGV[i])
  end
end
return 1
";

const PURGE_SENT: &str = r"
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for _, id in ipairs(ids) do redis.call('HDEL', KEYS[2], id) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return #ids
";

const REPUBLISH: &str = r"
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf')
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), id)
end
return #ids
";

/// The Lua scripts, hashed once (Redis runs them by SHA, loading them on first use).
struct Scripts {
    commit: redis::Script,
    mark_sent: redis::Script,
    purge_sent: redis::Script,
    republish: redis::Script,
}

/// The queue's store on Redis.
#[derive(Clone)]
pub struct RedisQueueStore {
    conn: ConnectionManager,
    keys: Keys,
    scripts: Arc<Scripts>,
    outbox_written: Arc<Notify>,
    changes: broadcast::Sender<Id>,
}

impl std::fmt::Debug for RedisQueueStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisQueueStore")
            .field("prefix", &self.keys.prefix)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
struct Keys {
    prefix: String,
}

impl Keys {
    fn ticket(&self, id: Id) -> String {
        format!("{}:t:{id}", self.prefix)
    }
    fn line(&self, id: Id) -> String {
        format!("{}:l:{id}", self.prefix)
    }
    fn inbox(&self, consumer: &str, event: Id) -> String {
        format!("{}:in:{consumer}:{event}", self.prefix)
    }
    fn named(&self, name: &str) -> String {
        format!("{}:{name}", self.prefix)
    }
}

impl RedisQueueStore {
    /// Connects to `url`, keeping every key under `prefix`, and starts following other
    /// replicas' changes (pub/sub) until `stop`.
    pub async fn connect(
        url: &str,
        prefix: &str,
        outbox_written: Arc<Notify>,
        stop: tokio_util::sync::CancellationToken,
    ) -> anyhow::Result<Self> {
        let client = redis::Client::open(url).context("parsing REDIS_URL")?;
        let conn = client
            .get_connection_manager()
            .await
            .context("connecting to Redis")?;
        let keys = Keys {
            prefix: prefix.to_owned(),
        };
        let changes = change_feed();
        tokio::spawn(follow_changes(
            client,
            keys.named("changes"),
            changes.clone(),
            stop,
        ));
        let scripts = Arc::new(Scripts {
            commit: redis::Script::new(COMMIT),
            mark_sent: redis::Script::new(MARK_SENT),
            purge_sent: redis::Script::new(PURGE_SENT),
            republish: redis::Script::new(REPUBLISH),
        });
        Ok(Self {
            conn,
            keys,
            scripts,
            outbox_written,
            changes,
        })
    }

    async fn load(
        &self,
        ticket_id: Id,
        user: Option<Id>,
        claim: Option<Claim<'_>>,
    ) -> anyhow::Result<(TicketState, Vec<Id>, u64, Option<u64>, bool)> {
        let mut conn = self.conn.clone();
        let member = user.map(|u| u.to_string()).unwrap_or_default();
        let inbox = match claim {
            Some(claim) => self.keys.inbox(claim.consumer, claim.event_id),
            None => self.keys.named("no-inbox"),
        };
        let (state, front, len, rank, seen): (Option<String>, Vec<String>, u64, Option<u64>, bool) =
            redis::pipe()
                .atomic()
                .hget(self.keys.ticket(ticket_id), "s")
                .zrange(self.keys.line(ticket_id), 0, FRONT as isize - 1)
                .zcard(self.keys.line(ticket_id))
                .zrank(self.keys.line(ticket_id), member)
                .exists(inbox)
                .query_async(&mut conn)
                .await
                .context("reading a line from Redis")?;
        let state = match state {
            Some(json) => serde_json::from_str(&json).context("reading a ticket's queue state")?,
            None => TicketState::default(),
        };
        let front = front
            .iter()
            .map(|user| user.parse().context("reading a line member"))
            .collect::<anyhow::Result<_>>()?;
        Ok((state, front, len, rank.map(|r| r + 1), seen))
    }
}

/// Forwards the `changes` channel into the local feed, reconnecting after errors.
async fn follow_changes(
    client: redis::Client,
    channel: String,
    feed: broadcast::Sender<Id>,
    stop: tokio_util::sync::CancellationToken,
) {
    loop {
        let followed = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            let mut messages = pubsub.on_message();
            while let Some(message) = messages.next().await {
                if let Ok(id) = message.get_payload::<String>()
                    && let Ok(id) = id.parse()
                {
                    let _ = feed.send(id);
                }
            }
            anyhow::Ok(())
        };
        tokio::select! {
            () = stop.cancelled() => return,
            result = followed => {
                if let Err(err) = result {
                    tracing::warn!(error = format!("{err:#}"), "lost the queue change feed; reconnecting");
                }
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

fn millis(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

fn from_millis(ms: f64) -> anyhow::Result<OffsetDateTime> {
    Ok(OffsetDateTime::from_unix_timestamp_nanos(
        i128::from(ms as i64) * 1_000_000,
    )?)
}

#[async_trait::async_trait]
impl QueueStore for RedisQueueStore {
    async fn modify(
        &self,
        ticket_id: Id,
        actor: Option<Id>,
        claim: Option<Claim<'_>>,
        change: Change,
    ) -> anyhow::Result<Result<Modified, QueueError>> {
        for _ in 0..MAX_ATTEMPTS {
            let (state, front, len, position, seen) = self.load(ticket_id, actor, claim).await?;
            if seen {
                return Ok(Ok(Modified::Duplicate));
            }
            let mut line = Line::loaded(state, front, len, actor.map(|user| (user, position)));
            let (events, snapshot) = match decide(&mut line, &change) {
                Ok(decided) => decided,
                Err(refusal) => return Ok(Err(refusal)),
            };
            if !line.changed() {
                return Ok(Ok(Modified::Unchanged(snapshot)));
            }
            let mut invocation = self.scripts.commit.prepare_invoke();
            invocation
                .key(self.keys.ticket(ticket_id))
                .key(self.keys.line(ticket_id))
                .key(self.keys.named("turns"))
                .key(self.keys.named("seq"))
                .key(self.keys.named("ob"))
                .key(self.keys.named("ob:ev"))
                .key(self.keys.named("ob:seq"))
                .key(match claim {
                    Some(claim) => self.keys.inbox(claim.consumer, claim.event_id),
                    None => self.keys.named("no-inbox"),
                })
                .arg(line.loaded_version())
                .arg(line.state.version)
                .arg(serde_json::to_string(&line.state)?)
                .arg(ticket_id.to_string())
                .arg(
                    line.state
                        .turn
                        .map(|turn| millis(turn.expires_at).to_string())
                        .unwrap_or_default(),
                )
                .arg(if claim.is_some() {
                    INBOX_TTL_SECONDS.to_string()
                } else {
                    String::new()
                })
                .arg(self.keys.named("changes"))
                .arg(line.ops().len());
            for op in line.ops() {
                match op {
                    LineOp::Push(user) => invocation.arg("push").arg(user.to_string()),
                    LineOp::Remove(user) => invocation.arg("remove").arg(user.to_string()),
                    LineOp::Clear => invocation.arg("clear").arg(""),
                };
            }
            for event in &events {
                invocation
                    .arg(event.id.to_string())
                    .arg(serde_json::to_string(event)?);
            }
            let mut conn = self.conn.clone();
            let result: i64 = invocation
                .invoke_async(&mut conn)
                .await
                .context("saving a line to Redis")?;
            match result {
                1 => {
                    if !events.is_empty() {
                        self.outbox_written.notify_one();
                    }
                    return Ok(Ok(Modified::Saved(snapshot)));
                }
                2 => return Ok(Ok(Modified::Duplicate)),
                _ => continue,
            }
        }
        anyhow::bail!("the line of ticket {ticket_id} kept changing under {MAX_ATTEMPTS} attempts")
    }

    async fn snapshot(&self, ticket_id: Id, user: Id) -> anyhow::Result<Snapshot> {
        let (state, _, len, position, _) = self.load(ticket_id, Some(user), None).await?;
        Ok(Snapshot {
            state,
            len,
            position,
        })
    }

    async fn turns_ended(&self, now: OffsetDateTime, limit: u32) -> anyhow::Result<Vec<Id>> {
        let mut conn = self.conn.clone();
        let ids: Vec<String> = conn
            .zrangebyscore_limit(
                self.keys.named("turns"),
                "-inf",
                millis(now),
                0,
                limit as isize,
            )
            .await?;
        ids.iter()
            .map(|id| id.parse().context("reading a ticket id"))
            .collect()
    }

    async fn next_turn_end(&self) -> anyhow::Result<Option<OffsetDateTime>> {
        let mut conn = self.conn.clone();
        let first: Vec<(String, f64)> = conn
            .zrange_withscores(self.keys.named("turns"), 0, 0)
            .await?;
        first.first().map(|(_, ms)| from_millis(*ms)).transpose()
    }

    fn changes(&self) -> broadcast::Receiver<Id> {
        self.changes.subscribe()
    }

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
        Arc::new(RedisOutbox {
            conn: self.conn.clone(),
            keys: self.keys.clone(),
            scripts: Arc::clone(&self.scripts),
        })
    }

    async fn ping(&self) -> anyhow::Result<()> {
        let mut conn = self.conn.clone();
        let _: String = redis::cmd("PING").query_async(&mut conn).await?;
        Ok(())
    }
}

/// The queue's outbox in Redis: written by the commit script, read by the relay.
#[derive(Clone)]
struct RedisOutbox {
    conn: ConnectionManager,
    keys: Keys,
    scripts: Arc<Scripts>,
}

#[async_trait::async_trait]
impl OutboxStore for RedisOutbox {
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
