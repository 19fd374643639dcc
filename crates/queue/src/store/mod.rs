//! Where lines are kept: one trait, an SQLite implementation (embedded mode) and a Redis
//! one (distributed mode, shared by every queue replica).
//!
//! * `sqlite` — [`SqliteQueueStore`]: one write transaction per change.
//! * `redis` — [`RedisQueueStore`]: keys, reads, the commit script, the outbox and the
//!   change feed that follows other replicas (see its module).
//!
//! Every change goes through [`QueueStore::modify`]: load the ticket's state, the front of
//! its line and the acting buyer's place; let a pure rule decide; save the state, the line
//! operations, the events and the inbox entry atomically. SQLite does it in one write
//! transaction; Redis with an optimistic version check inside one Lua script, retrying
//! the rule when another replica changed the ticket first — which is why a change is a
//! `Fn`, not a `FnOnce`.

mod redis;
mod sqlite;

use std::sync::Arc;

use boxoffice_common::Id;
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::runtime::TaskStart;
use boxoffice_platform::store::{Claim, Modified, Plumbing};
use time::OffsetDateTime;
use tokio::sync::broadcast;

pub use self::redis::RedisQueueStore;
pub use self::sqlite::SqliteQueueStore;
use crate::domain::{Line, QueueError, TicketState};

/// A change to one ticket's line, decided without I/O; returns the events it causes.
pub type Change = Box<dyn Fn(&mut Line) -> Result<Vec<Envelope>, QueueError> + Send + Sync>;

/// A ticket's line as one buyer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub state: TicketState,
    /// Buyers waiting.
    pub len: u64,
    /// The buyer's 1-based place, if they wait.
    pub position: Option<u64>,
}

/// Persistence for lines and turns.
#[async_trait::async_trait]
pub trait QueueStore: Send + Sync + 'static {
    /// Applies `change` to the line of `ticket_id`, `actor` being the buyer it concerns
    /// (their place is loaded). With a `claim`, an event seen before changes nothing.
    /// A ticket the queue never heard of is an empty line, never `Missing`.
    async fn modify(
        &self,
        ticket_id: Id,
        actor: Option<Id>,
        claim: Option<Claim<'_>>,
        change: Change,
    ) -> anyhow::Result<Modified<Snapshot, QueueError>>;
    /// The ticket's state and `user`'s place in its line.
    async fn snapshot(&self, ticket_id: Id, user: Id) -> anyhow::Result<Snapshot>;
    /// Tickets whose turn ended at or before `now`, at most `limit`.
    async fn turns_ended(&self, now: OffsetDateTime, limit: u32) -> anyhow::Result<Vec<Id>>;
    /// When the earliest running turn ends.
    async fn next_turn_end(&self) -> anyhow::Result<Option<OffsetDateTime>>;
    /// Ids of tickets whose line changed, as they change (from any replica).
    fn changes(&self) -> broadcast::Receiver<Id>;
    /// The outbox, dead letters and ping of the store.
    fn plumbing(&self) -> Arc<dyn Plumbing>;
    /// Work the store itself needs running for as long as the process runs, for the
    /// service to hand to its supervisor: Redis follows other replicas' changes into
    /// [`Self::changes`]. Each call makes a new runner, so call it once per store.
    fn background(&self) -> Option<TaskStart> {
        None
    }
    /// Where this store keeps waiting rooms, if it keeps them (the embedded SQLite store
    /// does; the distributed mode has no room store yet).
    fn rooms(&self) -> Option<Arc<dyn crate::room::store::RoomStore>> {
        None
    }
}

impl std::fmt::Debug for dyn QueueStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QueueStore")
    }
}

/// Runs `change` on a loaded line: the events it causes and the buyer's view after it, or
/// the refusal. Shared by the stores, which differ only in how they load and save.
fn decide(line: &mut Line, change: &Change) -> Result<(Vec<Envelope>, Snapshot), QueueError> {
    let events = change(line)?;
    let snapshot = Snapshot {
        state: line.state.clone(),
        len: line.len(),
        position: line.actor_position(),
    };
    Ok((events, snapshot))
}

/// Room in the change feed: a subscriber further behind re-reads its line anyway.
const CHANGE_FEED_CAPACITY: usize = 1024;

fn change_feed() -> broadcast::Sender<Id> {
    broadcast::channel(CHANGE_FEED_CAPACITY).0
}
