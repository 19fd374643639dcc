//! Where rooms are kept: their settings, fairness logs and members, and what a room needs
//! to know of the rest of BoxOffice — each event's creator and start, and each ticket's
//! event and whether it is free — fed by events. One trait; SQLite in the embedded mode,
//! PostgreSQL in the distributed one (where [`PostgresRoomStore`] also keeps which replica
//! runs each room, see [`super::tenancy`]).

mod postgres;
mod sqlite;

use boxoffice_common::Id;
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::store::Claim;

pub use self::postgres::PostgresRoomStore;
pub use self::sqlite::SqliteRoomStore;
use super::engine::Stock;
use super::log::Entry;
use super::writer::Appendix;

/// A room's settings as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct RoomRecord {
    pub event_id: Id,
    /// Unix milliseconds.
    pub opens_at: i64,
    pub per_account_limit: u32,
    /// The shuffle seed, hex; secret until the log reveals it.
    pub seed: String,
    /// The pseudonyms' key, hex; never published.
    pub salt: String,
    /// The version of the last `room:gate` published for the room.
    pub gate_version: i64,
}

impl std::fmt::Debug for RoomRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The seed and salt are secrets until the sale ends (the salt for good).
        f.debug_struct("RoomRecord")
            .field("event_id", &self.event_id)
            .field("opens_at", &self.opens_at)
            .field("per_account_limit", &self.per_account_limit)
            .field("gate_version", &self.gate_version)
            .finish_non_exhaustive()
    }
}

/// An event as a room needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventFacts {
    pub creator: Id,
    /// Unix milliseconds.
    pub starts_at: i64,
}

/// What an event of another service changes in a room's view of the world.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorldChange {
    /// An event was created or changed.
    Event { id: Id, facts: EventFacts },
    /// A ticket was listed or changed: its event (a listed ticket is free).
    Ticket { id: Id, event: Option<Id> },
    /// A ticket was withdrawn.
    Gone { id: Id },
    /// `buyer`'s live order holds these tickets.
    Held { tickets: Vec<Id>, buyer: Id },
    /// The order holding these tickets ended unpaid.
    Freed { tickets: Vec<Id> },
    /// These tickets were paid for.
    Sold { tickets: Vec<Id> },
}

/// Persistence for rooms.
#[async_trait::async_trait]
pub trait RoomStore: Send + Sync + 'static {
    /// The event's creator and start, if the catalogue announced it.
    async fn event(&self, event: Id) -> anyhow::Result<Option<EventFacts>>;
    /// Applies each of `changes` unless the inbox has seen its event, in order, in one
    /// transaction (a queue of an on-sale's order events costs one commit): for each, the
    /// events of the tickets it concerned (for `Held`: whose rooms may learn that an
    /// admission was used).
    async fn apply_all(&self, changes: &[(Claim<'_>, WorldChange)])
    -> anyhow::Result<Vec<Vec<Id>>>;
    /// The event's free and held tickets.
    async fn stock(&self, event: Id) -> anyhow::Result<Stock>;
    /// Every room, for a restart.
    async fn rooms(&self) -> anyhow::Result<Vec<RoomRecord>>;
    /// One room's settings.
    async fn room(&self, event: Id) -> anyhow::Result<Option<RoomRecord>>;
    /// Saves a room's settings, its first log `entries` and the `gate` event that
    /// announces them, in one transaction. Under a `tenure` (distributed), only while that
    /// tenure runs: otherwise nothing is written and the error is a
    /// [`TenureOver`](super::tenancy::TenureOver), as for [`append`](Self::append).
    async fn save_room(
        &self,
        room: &RoomRecord,
        entries: &[Entry],
        gate: Option<&Envelope>,
        tenure: Option<i64>,
    ) -> anyhow::Result<()>;
    /// Writes every appendix — log entries, members and gate events of any rooms, in the
    /// order given — in one transaction; but not those written under a tenure that is
    /// over (see [`super::tenancy`]): their positions in `batch` are returned.
    async fn append(&self, batch: &[&Appendix]) -> anyhow::Result<Vec<usize>>;
    /// A room's log, in order.
    async fn log(&self, event: Id) -> anyhow::Result<Vec<Entry>>;
    /// A room's members (pseudonym, user).
    async fn members(&self, event: Id) -> anyhow::Result<Vec<(String, Id)>>;
    /// Orders for `event`'s tickets recorded after the `after`-th, (number, buyer): how
    /// the replica running a room learns that an admission was used when another replica
    /// consumed the order event. The embedded mode has one replica, whose consumer tells
    /// the room at once, and records none.
    async fn orders_after(&self, event: Id, after: i64) -> anyhow::Result<Vec<(i64, Id)>> {
        let _ = (event, after);
        Ok(Vec::new())
    }
}

impl std::fmt::Debug for dyn RoomStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RoomStore")
    }
}
