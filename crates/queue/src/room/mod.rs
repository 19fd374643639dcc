//! The on-sale waiting room of an event (CONTRACT §12). The rules and proofs are pure and
//! on an explicit clock; the service around them keeps rooms in memory, writes every
//! decision to the log first, and signs the admissions the orders service checks.
//!
//! * [`fairness`] — the committed shuffle seed, pseudonyms, the prequeue's ranking.
//! * [`log`] — the hash-chained fairness log of every decision.
//! * [`engine`] — one room as a state machine: prequeue, opening, leases, parking,
//!   admission tied to stock and conversion, pause, sold out.
//! * [`verify`] — what `boxoffice verify-room` checks on an exported log: chain, seed,
//!   shuffle, inversions.
//! * [`store`] — rooms, logs and members kept (SQLite, PostgreSQL), and what rooms know of events,
//!   tickets and stock, fed by [`events`].
//! * [`writer`] — the log's group-committing writer: no buyer hears of a decision the log
//!   does not hold.
//! * [`service`] — the live rooms: set-up, join, heartbeat, leave, the tick that admits,
//!   signed admissions, honest estimates, the snapshot the feeds read.
//! * [`http`] and [`feed`] — `/api/events/{id}/room…` and its live feed (SSE).
//! * [`tenancy`] and [`forward`] — the distributed mode: one replica runs each room,
//!   elected by a lease in PostgreSQL and fenced by its tenure; the others pass the
//!   room's requests on to it.

pub mod engine;
pub mod events;
pub mod fairness;
pub mod feed;
pub mod forward;
pub mod http;
pub mod log;
pub mod service;
pub mod store;
pub mod tenancy;
pub mod verify;
pub mod writer;

#[cfg(test)]
mod simulation;

pub use engine::{PlaceState, PlaceView, Room, RoomConfig, RoomState, Stock};
pub use fairness::{Seed, pid};
pub use log::{Entry, FairnessLog, Head, What};
pub use service::{RoomSettings, Rooms};
pub use verify::{Verification, verify, verify_lines};

/// Moves every room on, every `tick` of the settings, until `stop`.
pub async fn run_ticker(
    rooms: Rooms,
    stop: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    let mut every = tokio::time::interval(rooms.settings().tick);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            _ = every.tick() => tokio::select! {
                () = stop.cancelled() => return Ok(()),
                ticked = rooms.tick() => ticked?,
            },
        }
    }
}
