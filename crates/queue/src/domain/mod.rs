//! Lines, turns and the rules that move them. Pure: no I/O, no clock.
//!
//! A ticket's line is a strict arrival-order list of buyers. While the ticket is held the
//! line only grows and shrinks; when the hold lapses, the head of the line gets an
//! exclusive turn; when the turn ends unused, the next buyer gets one. Invariant kept by
//! every rule: *a free ticket with a non-empty line always has a turn* (the head's).
//!
//! * this module — what the queue knows of a ticket ([`TicketState`], its holder and
//!   turn) and the refusals a buyer can get.
//! * [`line`] — [`Line`]: the state plus the front of the line, its length and the
//!   acting buyer's place, as a store loads it; the [`LineOp`]s a rule records on it.
//! * [`rules`] — [`Rules`]: joining, leaving, turns that lapse, and what ticket and order
//!   events do to a line.
//! * [`place`] — [`Place`]: where a buyer stands and how long they may wait.
//!
//! The store loads a [`Line`], lets a rule change it, and saves the recorded
//! [`LineOp`]s with the new state atomically.

pub mod line;
pub mod place;
pub mod rules;
#[cfg(test)]
mod tests;

use boxoffice_common::Id;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub use line::{FRONT, Line, LineOp};
pub use place::Place;
pub use rules::Rules;

pub const TICKET_AVAILABLE: &str = "Ticket is available; order it directly";
pub const TICKET_SOLD: &str = "Ticket is already sold";
pub const OWN_TICKET: &str = "Cannot queue for your own ticket";
pub const ALREADY_HOLDING: &str = "You already hold this ticket";

/// What the queue knows of one ticket, from ticket and order events, plus its turn.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketState {
    /// Bumped by every saved change; the `version` of `queue:line` events.
    pub version: i64,
    /// `ticket:created` was seen.
    pub listed: bool,
    pub seller: Option<Id>,
    pub gone: Option<Gone>,
    /// The live order holding the ticket.
    pub holder: Option<Holder>,
    /// The exclusive turn of the head of the line.
    pub turn: Option<Turn>,
    /// Recently cancelled orders for this ticket.
    #[serde(default)]
    pub closed_orders: Vec<Id>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Gone {
    Sold,
    Deleted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Holder {
    pub order_id: Id,
    pub user_id: Id,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Turn {
    pub user_id: Id,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

impl TicketState {
    /// Whether the queue has heard of the ticket at all.
    pub fn known(&self) -> bool {
        self.listed || self.holder.is_some() || self.gone.is_some()
    }
}

/// A refusal of a buyer's request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Refused(&'static str),
}
