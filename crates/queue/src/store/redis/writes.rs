//! Saving a line: the Lua scripts, and the one that commits a change.
//!
//! A change reads a consistent snapshot (`reads`), runs the rule in Rust, and commits
//! with `commit.lua`, which first checks the ticket's version: if another replica got
//! there first nothing is written and the rule runs again on fresh data. State, line,
//! outbox and inbox therefore change together or not at all, as in a SQL transaction.

use anyhow::Context;
use boxoffice_common::Id;
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::store::Claim;

use super::RedisQueueStore;
use super::keys::millis;
use crate::domain::{Line, LineOp};

/// How long a consumer remembers an event it handled. Far beyond any redelivery.
const INBOX_TTL_SECONDS: u64 = 7 * 24 * 3600;

/// The Lua scripts, hashed once (Redis runs them by SHA, loading them on first use).
#[derive(Debug)]
pub(super) struct Scripts {
    pub(super) commit: redis::Script,
    pub(super) mark_sent: redis::Script,
    pub(super) purge_sent: redis::Script,
    pub(super) republish: redis::Script,
}

impl Scripts {
    pub(super) fn new() -> Self {
        Self {
            commit: redis::Script::new(include_str!("commit.lua")),
            mark_sent: redis::Script::new(include_str!("mark_sent.lua")),
            purge_sent: redis::Script::new(include_str!("purge_sent.lua")),
            republish: redis::Script::new(include_str!("republish.lua")),
        }
    }
}

/// What became of one commit attempt.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Committed {
    Saved,
    /// The inbox already held the claimed event.
    Duplicate,
    /// Another writer changed the ticket since it was read: decide again.
    Stale,
}

impl RedisQueueStore {
    /// Saves `line` (decided on the version it was loaded at) with `events` and the
    /// inbox entry of `claim`, and tells other replicas the ticket changed.
    pub(super) async fn commit(
        &self,
        ticket_id: Id,
        claim: Option<Claim<'_>>,
        line: &Line,
        events: &[Envelope],
    ) -> anyhow::Result<Committed> {
        let mut invocation = self.scripts.commit.prepare_invoke();
        // KEYS[1..8]
        invocation
            .key(self.keys.ticket(ticket_id))
            .key(self.keys.line(ticket_id))
            .key(self.keys.named("turns"))
            .key(self.keys.named("seq"))
            .key(self.keys.named("ob"))
            .key(self.keys.named("ob:ev"))
            .key(self.keys.named("ob:seq"))
            .key(self.keys.inbox(claim));
        // ARGV[1..8]: versions, state, ticket, turn end, inbox TTL, channel, op count.
        invocation
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
        // Then each line op as (kind, user), then each event as (id, envelope).
        for op in line.ops() {
            match op {
                LineOp::Push(user) => invocation.arg("push").arg(user.to_string()),
                LineOp::Remove(user) => invocation.arg("remove").arg(user.to_string()),
                LineOp::Clear => invocation.arg("clear").arg(""),
            };
        }
        for event in events {
            invocation
                .arg(event.id.to_string())
                .arg(serde_json::to_string(event)?);
        }
        let mut conn = self.conn.clone();
        let result: i64 = invocation
            .invoke_async(&mut conn)
            .await
            .context("saving a line to Redis")?;
        Ok(match result {
            1 => Committed::Saved,
            2 => Committed::Duplicate,
            _ => Committed::Stale,
        })
    }
}
