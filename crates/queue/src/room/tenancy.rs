//! Which replica runs which room (the distributed mode). A room's decisions — places,
//! admissions — must be taken in one place, or two replicas would admit twice: each room
//! is run by the one replica holding its lease in the shared database, renewed every
//! third of its length and taken over by another replica once it lapses. Every write to
//! a room's log checks the writer's *tenure* (a number that grows with each new holder)
//! in the same transaction, so a replica that lost its lease — paused, cut off — can no
//! longer add to the log, and its successor restores the room from what the log holds.
//!
//! The other replicas pass a room's requests on to its runner ([`super::forward`]).

use std::time::Duration;

use boxoffice_common::Id;

use super::service::Rooms;

/// Where a room runs, as the shared database says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runner {
    /// No such room.
    NoRoom,
    /// Nobody holds the room's lease (never taken, or it lapsed).
    Nobody,
    /// The replica taking the room's requests at this address holds its lease.
    At(String),
}

/// The leases of rooms, kept where the rooms are (PostgreSQL).
#[async_trait::async_trait]
pub trait RoomLeases: Send + Sync + 'static {
    /// Takes `event`'s room for `holder`, reachable at `address`, for `lease` — or renews
    /// it when `holder` has it. The tenure, which is new unless `holder`'s lease was still
    /// running; `None` while another holder's lease runs.
    async fn hold(
        &self,
        event: Id,
        holder: &str,
        address: &str,
        lease: Duration,
    ) -> anyhow::Result<Option<i64>>;
    /// Ends `tenure` of `event`'s room (a replica stopping), so another takes it at once.
    async fn let_go(&self, event: Id, tenure: i64) -> anyhow::Result<()>;
    /// Where `event`'s room runs.
    async fn runner(&self, event: Id) -> anyhow::Result<Runner>;
    /// Rooms no replica runs.
    async fn unheld(&self) -> anyhow::Result<Vec<Id>>;
}

impl std::fmt::Debug for dyn RoomLeases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RoomLeases")
    }
}

/// This replica's part in running rooms.
#[derive(Debug, Clone)]
pub struct Tenancy {
    pub leases: std::sync::Arc<dyn RoomLeases>,
    /// This replica, unique per process start.
    pub holder: String,
    /// Where the other replicas reach this one (`http://host:port`).
    pub address: String,
    /// How long a lease lasts unrenewed: how long a room waits for a new runner after its
    /// runner died without letting go.
    pub lease: Duration,
    /// Passes requests on to other replicas ([`super::forward`]).
    pub client: reqwest::Client,
}

/// A room's lease unless set otherwise: a replica that dies without letting go leaves its
/// rooms unanswered this long.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(6);

impl Tenancy {
    /// `address`'s part, holding leases of `lease` in `leases`.
    pub fn new(
        leases: std::sync::Arc<dyn RoomLeases>,
        address: String,
        lease: Duration,
    ) -> anyhow::Result<Self> {
        let mut nonce = [0_u8; 8];
        getrandom::fill(&mut nonce).map_err(|err| anyhow::anyhow!("no randomness: {err}"))?;
        Ok(Self {
            leases,
            holder: format!("{address}#{}", hex::encode(nonce)),
            address,
            lease,
            client: super::forward::client()?,
        })
    }

    /// How often the leases held are renewed and lapsed ones looked for.
    pub fn every(&self) -> Duration {
        self.lease / 3
    }
}

/// An appendix refused because its room's tenure is over.
#[derive(Debug, thiserror::Error)]
#[error("this replica no longer runs the room of event {0}")]
pub struct TenureOver(pub Id);

/// Keeps this replica's rooms (see [`Rooms::hold_rooms`]) until `stop`, then lets them
/// go so the other replicas take them at once.
pub async fn run_holder(
    rooms: Rooms,
    stop: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    let Some(every) = rooms.tenancy().map(Tenancy::every) else {
        // One process runs every room: nothing to hold, but a task that ended would read
        // as dead to the supervisor.
        stop.cancelled().await;
        return Ok(());
    };
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => {
                rooms.let_go().await;
                return Ok(());
            }
            _ = ticks.tick() => rooms.hold_rooms().await?,
        }
    }
}

#[cfg(test)]
mod tests;
