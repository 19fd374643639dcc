//! Reading a line: one `MULTI` snapshot of the ticket's state, the front of its line, its
//! length, the acting buyer's rank and the inbox entry.

use anyhow::Context;
use boxoffice_common::Id;
use boxoffice_platform::store::Claim;

use super::RedisQueueStore;
use crate::domain::{FRONT, TicketState};

/// A line as read, before a rule sees it.
#[derive(Debug)]
pub(super) struct Loaded {
    pub(super) state: TicketState,
    pub(super) front: Vec<Id>,
    pub(super) len: u64,
    /// The buyer's 1-based place, if they wait.
    pub(super) position: Option<u64>,
    /// The claimed event was handled before.
    pub(super) seen: bool,
}

impl RedisQueueStore {
    pub(super) async fn load(
        &self,
        ticket_id: Id,
        user: Option<Id>,
        claim: Option<Claim<'_>>,
    ) -> anyhow::Result<Loaded> {
        let mut conn = self.conn.clone();
        let member = user.map(|u| u.to_string()).unwrap_or_default();
        let line = self.keys.line(ticket_id);
        let (state, front, len, rank, seen): (Option<String>, Vec<String>, u64, Option<u64>, bool) =
            redis::pipe()
                .atomic()
                .hget(self.keys.ticket(ticket_id), "s")
                .zrange(&line, 0, FRONT as isize - 1)
                .zcard(&line)
                .zrank(&line, member)
                .exists(self.keys.inbox(claim))
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
        Ok(Loaded {
            state,
            front,
            len,
            position: rank.map(|r| r + 1),
            seen,
        })
    }
}
