//! Lines in Redis, shared by every queue replica of the distributed mode.
//!
//! * [`keys`] — where everything lives, and times as scores.
//! * [`reads`] — one consistent read of a line.
//! * [`writes`] — the Lua scripts (`*.lua` beside this file) and the commit of a change:
//!   a version check, then state, line, outbox and inbox together or not at all.
//! * [`outbox`] — the outbox the relay reads, the dead letters and the ping.
//! * [`changes`] — the follower that forwards other replicas' changes into the local
//!   change feed; handed to the supervisor through [`QueueStore::background`].

mod changes;
mod keys;
mod outbox;
mod reads;
mod writes;

use std::sync::Arc;

use anyhow::Context;
use boxoffice_common::Id;
use boxoffice_platform::runtime::TaskStart;
use boxoffice_platform::store::{Claim, Modified, Plumbing};
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use time::OffsetDateTime;
use tokio::sync::{Notify, broadcast};

use self::changes::ChangeFollower;
use self::keys::{Keys, from_millis, millis};
use self::outbox::RedisEvents;
use self::writes::{Committed, Scripts};
use super::{Change, QueueStore, Snapshot, change_feed, decide};
use crate::domain::{Line, QueueError};

/// Optimistic retries before a change gives up (only under extreme contention).
const MAX_ATTEMPTS: u32 = 64;

/// The queue's store on Redis.
#[derive(Clone)]
pub struct RedisQueueStore {
    client: redis::Client,
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

impl RedisQueueStore {
    /// Connects to `url`, keeping every key under `prefix`. Other replicas' changes reach
    /// [`QueueStore::changes`] only while the runner of [`QueueStore::background`] runs;
    /// a one-off use (republishing the outbox) needs none.
    pub async fn connect(
        url: &str,
        prefix: &str,
        outbox_written: Arc<Notify>,
    ) -> anyhow::Result<Self> {
        let client = redis::Client::open(url).context("parsing REDIS_URL")?;
        let conn = client
            .get_connection_manager()
            .await
            .context("connecting to Redis")?;
        Ok(Self {
            client,
            conn,
            keys: Keys {
                prefix: prefix.to_owned(),
            },
            scripts: Arc::new(Scripts::new()),
            outbox_written,
            changes: change_feed(),
        })
    }

    fn events(&self) -> RedisEvents {
        RedisEvents {
            conn: self.conn.clone(),
            keys: self.keys.clone(),
            scripts: Arc::clone(&self.scripts),
        }
    }
}

#[async_trait::async_trait]
impl QueueStore for RedisQueueStore {
    async fn modify(
        &self,
        ticket_id: Id,
        actor: Option<Id>,
        claim: Option<Claim<'_>>,
        change: Change,
    ) -> anyhow::Result<Modified<Snapshot, QueueError>> {
        for _ in 0..MAX_ATTEMPTS {
            let loaded = self.load(ticket_id, actor, claim).await?;
            if loaded.seen {
                return Ok(Modified::Duplicate);
            }
            let actor = actor.map(|user| (user, loaded.position));
            let mut line = Line::loaded(loaded.state, loaded.front, loaded.len, actor);
            let (events, snapshot) = match decide(&mut line, &change) {
                Ok(decided) => decided,
                Err(refusal) => return Ok(Modified::Refused(refusal)),
            };
            if !line.changed() {
                return Ok(Modified::Unchanged(snapshot));
            }
            match self.commit(ticket_id, claim, &line, &events).await? {
                Committed::Saved => {
                    if !events.is_empty() {
                        self.outbox_written.notify_one();
                    }
                    return Ok(Modified::Saved(snapshot));
                }
                Committed::Duplicate => return Ok(Modified::Duplicate),
                Committed::Stale => continue,
            }
        }
        anyhow::bail!("the line of ticket {ticket_id} kept changing under {MAX_ATTEMPTS} attempts")
    }

    async fn snapshot(&self, ticket_id: Id, user: Id) -> anyhow::Result<Snapshot> {
        let loaded = self.load(ticket_id, Some(user), None).await?;
        Ok(Snapshot {
            state: loaded.state,
            len: loaded.len,
            position: loaded.position,
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

    fn plumbing(&self) -> Arc<dyn Plumbing> {
        Arc::new(self.events())
    }

    fn background(&self) -> Option<TaskStart> {
        let follower = ChangeFollower {
            client: self.client.clone(),
            channel: self.keys.named("changes"),
            feed: self.changes.clone(),
        };
        Some(Box::new(move |stop| Box::pin(follower.clone().run(stop))))
    }
}
