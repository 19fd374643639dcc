//! The on-sale waiting room of an event (CONTRACT §12): its rules and its proofs, pure and
//! on an explicit clock. The room's store, routes, live feed and the admission tokens the
//! orders service checks build on these.
//!
//! * [`fairness`] — the committed shuffle seed, pseudonyms, the prequeue's ranking.
//! * [`log`] — the hash-chained fairness log of every decision.
//! * [`engine`] — one room as a state machine: prequeue, opening, leases, parking,
//!   admission tied to stock and conversion, pause, sold out.
//! * [`verify`] — what `boxoffice verify-room` checks on an exported log: chain, seed,
//!   shuffle, inversions.

pub mod engine;
pub mod fairness;
pub mod log;
pub mod verify;

#[cfg(test)]
mod simulation;

pub use engine::{PlaceState, PlaceView, Room, RoomConfig, RoomState, Stock};
pub use fairness::{Seed, pid};
pub use log::{Entry, FairnessLog, Head, What};
pub use verify::{Verification, verify, verify_lines};
