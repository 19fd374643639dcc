//! Lines, turns and the rules that move them. Pure: no I/O, no clock.
//!
//! A ticket's line is a strict arrival-order list of buyers. While the ticket is held the
//! line only grows and shrinks; when the hold lapses, the head of the line gets an
//! exclusive turn; when the turn ends unused, the next buyer gets one. Invariant kept by
//! every rule: *a free ticket with a non-empty line always has a turn* (the head's).
//!
//! The store loads a [`Line`] — the ticket's state plus the front of its line, its length
//! and the acting buyer's place — lets a rule change it, and saves the recorded
//! [`LineOp`]s with the new state atomically.

use std::collections::VecDeque;

use boxoffice_common::Id;
use boxoffice_common::events::{QueueLine, QueueTurn};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

pub const TICKET_AVAILABLE: &str = "Ticket is available; order it directly";
pub const TICKET_SOLD: &str = "Ticket is already sold";
pub const OWN_TICKET: &str = "Cannot queue for your own ticket";
pub const ALREADY_HOLDING: &str = "You already hold this ticket";

/// How many members at the front of a line a store loads: enough for any rule, which
/// removes at most one member and then needs to know the new head.
pub const FRONT: usize = 3;

/// Cancelled orders a ticket remembers, so an `order:created` delivered after its own
/// cancellation holds nothing.
const CLOSED_ORDERS_KEPT: usize = 16;

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
    fn known(&self) -> bool {
        self.listed || self.holder.is_some() || self.gone.is_some()
    }
}

/// A change to the line itself, applied by the store in the order recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineOp {
    /// Append at the back (strict arrival order).
    Push(Id),
    Remove(Id),
    Clear,
}

/// A refusal of a buyer's request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Refused(&'static str),
}

/// One ticket's line as a rule sees it while changing it.
#[derive(Debug, Clone)]
pub struct Line {
    pub state: TicketState,
    before: TicketState,
    /// The first members, in order (all of them when the line is short).
    front: VecDeque<Id>,
    len: u64,
    /// The buyer acting, and their 1-based place if they wait in this line.
    actor: Option<(Id, Option<u64>)>,
    len_before: u64,
    ops: Vec<LineOp>,
}

impl Line {
    /// A line as loaded by a store. `front` holds the first `min(len, FRONT)` members.
    pub fn loaded(
        state: TicketState,
        front: Vec<Id>,
        len: u64,
        actor: Option<(Id, Option<u64>)>,
    ) -> Self {
        Self {
            before: state.clone(),
            state,
            front: front.into(),
            len,
            actor,
            len_before: len,
            ops: Vec::new(),
        }
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn head(&self) -> Option<Id> {
        self.front.front().copied()
    }

    /// The acting buyer's 1-based place, if they wait in this line.
    pub fn actor_position(&self) -> Option<u64> {
        self.actor.and_then(|(_, position)| position)
    }

    fn actor_id(&self) -> Option<Id> {
        self.actor.map(|(id, _)| id)
    }

    /// The place of `user` if it can be known from what was loaded.
    fn position_of(&self, user: Id) -> Option<u64> {
        if self.actor_id() == Some(user) {
            return self.actor_position();
        }
        self.front
            .iter()
            .position(|member| *member == user)
            .map(|index| index as u64 + 1)
    }

    /// Appends the acting buyer at the back.
    fn push_actor(&mut self) {
        let Some((user, None)) = self.actor else {
            return;
        };
        if self.front.len() as u64 == self.len && self.front.len() < FRONT {
            self.front.push_back(user);
        }
        self.len += 1;
        self.actor = Some((user, Some(self.len)));
        self.ops.push(LineOp::Push(user));
    }

    /// Removes `user` if they wait here (their place must be known: the actor or a front member).
    fn remove(&mut self, user: Id) {
        let Some(position) = self.position_of(user) else {
            return;
        };
        self.front.retain(|member| *member != user);
        self.len -= 1;
        if let Some((actor, Some(actor_position))) = self.actor {
            self.actor = if actor == user {
                Some((actor, None))
            } else if actor_position > position {
                Some((actor, Some(actor_position - 1)))
            } else {
                self.actor
            };
        }
        self.ops.push(LineOp::Remove(user));
    }

    fn clear(&mut self) {
        if self.len == 0 {
            return;
        }
        self.front.clear();
        self.len = 0;
        if let Some((actor, _)) = self.actor {
            self.actor = Some((actor, None));
        }
        self.ops.push(LineOp::Clear);
    }

    /// Whether the rule changed anything that must be saved.
    pub fn changed(&self) -> bool {
        !self.ops.is_empty() || self.state != self.before
    }

    /// The version the store loaded (for compare-and-set stores).
    pub fn loaded_version(&self) -> i64 {
        self.before.version
    }

    pub fn ops(&self) -> &[LineOp] {
        &self.ops
    }

    /// Ends a change: bumps the version and, when what the orders service enforces
    /// (whether anyone waits, whose turn it is) moved, returns the `queue:line` payload.
    pub fn finish(&mut self, ticket_id: Id) -> Option<QueueLine> {
        if !self.changed() {
            return None;
        }
        self.state.version = self.before.version + 1;
        let gate_moved =
            (self.len > 0) != (self.len_before > 0) || self.state.turn != self.before.turn;
        gate_moved.then(|| QueueLine {
            ticket_id,
            version: self.state.version,
            waiting: self.len,
            turn: self.state.turn.map(|turn| QueueTurn {
                user_id: turn.user_id,
                expires_at: turn.expires_at,
            }),
        })
    }
}

/// The knobs of the rules.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// How long the head of a line has to order.
    pub turn: Duration,
}

impl Rules {
    /// The acting buyer joins the line. Joining twice keeps the first place.
    pub fn join(&self, line: &mut Line, user: Id) -> Result<(), QueueError> {
        let state = &line.state;
        if !state.known() || state.gone == Some(Gone::Deleted) {
            return Err(QueueError::NotFound);
        }
        if state.gone == Some(Gone::Sold) {
            return Err(QueueError::Refused(TICKET_SOLD));
        }
        if state.seller == Some(user) {
            return Err(QueueError::Refused(OWN_TICKET));
        }
        if state.holder.is_some_and(|holder| holder.user_id == user) {
            return Err(QueueError::Refused(ALREADY_HOLDING));
        }
        if line.actor_position().is_some() {
            return Ok(());
        }
        if state.holder.is_none() && line.is_empty() {
            return Err(QueueError::Refused(TICKET_AVAILABLE));
        }
        line.push_actor();
        Ok(())
    }

    /// The acting buyer leaves; if it was their turn, the next buyer's begins.
    pub fn leave(&self, line: &mut Line, user: Id, now: OffsetDateTime) {
        if line.actor_position().is_none() {
            return;
        }
        let had_turn = line.state.turn.is_some_and(|turn| turn.user_id == user);
        line.remove(user);
        if had_turn {
            line.state.turn = None;
            self.offer_to_head(line, now);
        }
    }

    /// A turn that ran out unused passes to the next buyer.
    pub fn turn_lapsed(&self, line: &mut Line, now: OffsetDateTime) {
        let Some(turn) = line.state.turn else { return };
        if turn.expires_at > now {
            return;
        }
        line.remove(turn.user_id);
        line.state.turn = None;
        self.offer_to_head(line, now);
    }

    /// The seller listed the ticket.
    pub fn ticket_listed(&self, line: &mut Line, seller: Id) {
        line.state.listed = true;
        line.state.seller = Some(seller);
    }

    /// The seller withdrew the ticket: nobody can buy it any more.
    pub fn ticket_deleted(&self, line: &mut Line) {
        self.close(line, Gone::Deleted);
    }

    /// An order now holds the ticket (the acting buyer is the one who placed it). The buyer
    /// leaves the line if they were in it; the turn, used or not, is over.
    pub fn order_placed(&self, line: &mut Line, order_id: Id, expires_at: OffsetDateTime) {
        let Some(user) = line.actor_id() else { return };
        if line.state.gone.is_some() || line.state.closed_orders.contains(&order_id) {
            return;
        }
        // Order ids grow with time (UUIDv7): an older order's late event holds nothing.
        if line
            .state
            .holder
            .is_some_and(|holder| holder.order_id > order_id)
        {
            return;
        }
        line.state.holder = Some(Holder {
            order_id,
            user_id: user,
            expires_at,
        });
        line.remove(user);
        line.state.turn = None;
    }

    /// An order was cancelled. If it held the ticket, the hold lapsed: the head of the
    /// line gets the turn.
    pub fn order_cancelled(&self, line: &mut Line, order_id: Id, now: OffsetDateTime) {
        let closed = &mut line.state.closed_orders;
        if !closed.contains(&order_id) {
            closed.push(order_id);
            if closed.len() > CLOSED_ORDERS_KEPT {
                closed.remove(0);
            }
        }
        if line.state.holder.is_some_and(|h| h.order_id == order_id) {
            line.state.holder = None;
            self.offer_to_head(line, now);
        }
    }

    /// An order was paid: the ticket is sold and the line is over.
    pub fn order_completed(&self, line: &mut Line) {
        self.close(line, Gone::Sold);
    }

    fn close(&self, line: &mut Line, gone: Gone) {
        line.state.gone = Some(gone);
        line.state.holder = None;
        line.state.turn = None;
        line.clear();
    }

    /// Keeps the invariant: a free ticket with someone waiting is the head's turn.
    fn offer_to_head(&self, line: &mut Line, now: OffsetDateTime) {
        if line.state.holder.is_some() || line.state.gone.is_some() || line.state.turn.is_some() {
            return;
        }
        line.state.turn = line.head().map(|user_id| Turn {
            user_id,
            expires_at: now + self.turn,
        });
    }
}

/// A buyer's place in a line, as the API reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// 1-based; 1 is the head.
    pub position: u64,
    pub total: u64,
    pub estimated_wait_seconds: u64,
    /// Set while it is this buyer's turn.
    pub turn_expires_at: Option<OffsetDateTime>,
}

impl Rules {
    /// Where `user`, waiting at `position` of `total`, stands. The wait is an estimate
    /// that assumes everyone ahead lets their turn pass: the rest of the current hold (or
    /// turn), then one full turn per buyer still ahead.
    pub fn place(
        &self,
        state: &TicketState,
        user: Id,
        position: u64,
        total: u64,
        now: OffsetDateTime,
    ) -> Place {
        let remaining = |until: OffsetDateTime| (until - now).max(Duration::ZERO);
        let turn_seconds = self.turn.whole_seconds().max(0) as u64;
        let ahead = position.saturating_sub(1);
        let (turn_expires_at, wait) = match (state.turn, state.holder) {
            (Some(turn), _) if turn.user_id == user => (Some(turn.expires_at), Duration::ZERO),
            (Some(turn), _) => (
                None,
                remaining(turn.expires_at)
                    + Duration::seconds((ahead.saturating_sub(1) * turn_seconds) as i64),
            ),
            (None, Some(holder)) => (
                None,
                remaining(holder.expires_at) + Duration::seconds((ahead * turn_seconds) as i64),
            ),
            (None, None) => (None, Duration::seconds((ahead * turn_seconds) as i64)),
        };
        Place {
            position,
            total,
            estimated_wait_seconds: wait.whole_seconds().max(0) as u64
                + u64::from(wait.subsec_nanoseconds() > 0),
            turn_expires_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use boxoffice_common::id::new_id;
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-01-01 12:00 UTC);

    fn rules() -> Rules {
        Rules {
            turn: Duration::seconds(120),
        }
    }

    fn held_by(user: Id) -> TicketState {
        TicketState {
            listed: true,
            seller: Some(new_id()),
            holder: Some(Holder {
                order_id: new_id(),
                user_id: user,
                expires_at: NOW + Duration::minutes(10),
            }),
            ..TicketState::default()
        }
    }

    #[test]
    fn joining_a_held_ticket_appends_at_the_back_and_opens_the_gate() {
        let buyer = new_id();
        let mut line = Line::loaded(held_by(new_id()), vec![], 0, Some((buyer, None)));
        rules().join(&mut line, buyer).expect("joined");
        assert_eq!(line.actor_position(), Some(1));
        let gate = line.finish(new_id()).expect("gate moved");
        assert_eq!((gate.waiting, gate.turn, gate.version), (1, None, 1));
    }

    #[test]
    fn joining_twice_keeps_the_first_place_and_changes_nothing() {
        let buyer = new_id();
        let mut line = Line::loaded(
            held_by(new_id()),
            vec![new_id(), buyer],
            2,
            Some((buyer, Some(2))),
        );
        rules().join(&mut line, buyer).expect("joined");
        assert_eq!(line.actor_position(), Some(2));
        assert!(!line.changed());
    }

    #[test]
    fn free_sold_own_and_unknown_tickets_refuse_a_join() {
        let buyer = new_id();
        let free = TicketState {
            listed: true,
            ..TicketState::default()
        };
        let sold = TicketState {
            gone: Some(Gone::Sold),
            ..free.clone()
        };
        let own = TicketState {
            seller: Some(buyer),
            ..held_by(new_id())
        };
        let cases = [
            (free, QueueError::Refused(TICKET_AVAILABLE)),
            (sold, QueueError::Refused(TICKET_SOLD)),
            (own, QueueError::Refused(OWN_TICKET)),
            (held_by(buyer), QueueError::Refused(ALREADY_HOLDING)),
            (TicketState::default(), QueueError::NotFound),
        ];
        for (state, expected) in cases {
            let mut line = Line::loaded(state, vec![], 0, Some((buyer, None)));
            assert_eq!(rules().join(&mut line, buyer), Err(expected));
            assert!(!line.changed());
        }
    }

    #[test]
    fn a_lapsed_hold_gives_the_head_an_exclusive_turn() {
        let (first, second) = (new_id(), new_id());
        let state = held_by(new_id());
        let order = state.holder.expect("held").order_id;
        let mut line = Line::loaded(state, vec![first, second], 2, None);
        rules().order_cancelled(&mut line, order, NOW);
        let turn = line.state.turn.expect("turn");
        assert_eq!(
            (turn.user_id, turn.expires_at),
            (first, NOW + Duration::seconds(120))
        );
        let gate = line.finish(new_id()).expect("gate moved");
        assert_eq!(gate.turn.map(|t| t.user_id), Some(first));
        assert_eq!(gate.waiting, 2);
    }

    #[test]
    fn a_stale_cancellation_does_not_free_a_newer_hold() {
        let state = held_by(new_id());
        let mut line = Line::loaded(state.clone(), vec![new_id()], 1, None);
        rules().order_cancelled(&mut line, new_id(), NOW);
        assert_eq!(line.state.holder, state.holder);
        assert_eq!(line.state.turn, None);
    }

    #[test]
    fn an_unused_turn_passes_to_the_next_buyer_and_then_the_gate_opens() {
        let (first, second) = (new_id(), new_id());
        let state = TicketState {
            listed: true,
            turn: Some(Turn {
                user_id: first,
                expires_at: NOW,
            }),
            ..TicketState::default()
        };
        let mut line = Line::loaded(state, vec![first, second], 2, None);
        rules().turn_lapsed(&mut line, NOW - Duration::seconds(1));
        assert!(!line.changed(), "not yet due");
        rules().turn_lapsed(&mut line, NOW);
        assert_eq!(line.ops(), &[LineOp::Remove(first)]);
        assert_eq!(line.state.turn.map(|t| t.user_id), Some(second));

        let mut last = Line::loaded(line.state.clone(), vec![second], 1, None);
        rules().turn_lapsed(&mut last, NOW + Duration::seconds(120));
        assert_eq!(last.state.turn, None);
        let gate = last.finish(new_id()).expect("gate moved");
        assert_eq!((gate.waiting, gate.turn), (0, None));
    }

    #[test]
    fn the_turn_holder_ordering_leaves_the_line_and_ends_the_turn() {
        let (first, second) = (new_id(), new_id());
        let state = TicketState {
            listed: true,
            turn: Some(Turn {
                user_id: first,
                expires_at: NOW + Duration::seconds(60),
            }),
            ..TicketState::default()
        };
        let mut line = Line::loaded(state, vec![first, second], 2, Some((first, Some(1))));
        let order = new_id();
        rules().order_placed(&mut line, order, NOW + Duration::minutes(15));
        assert_eq!(
            line.state.holder.map(|h| (h.order_id, h.user_id)),
            Some((order, first))
        );
        assert_eq!(line.state.turn, None);
        assert_eq!((line.len(), line.head()), (1, Some(second)));
    }

    #[test]
    fn leaving_during_ones_turn_hands_it_on() {
        let (first, second) = (new_id(), new_id());
        let state = TicketState {
            listed: true,
            turn: Some(Turn {
                user_id: first,
                expires_at: NOW + Duration::seconds(60),
            }),
            ..TicketState::default()
        };
        let mut line = Line::loaded(state, vec![first, second], 2, Some((first, Some(1))));
        rules().leave(&mut line, first, NOW);
        assert_eq!(line.state.turn.map(|t| t.user_id), Some(second));
        assert_eq!(line.actor_position(), None);
    }

    #[test]
    fn an_order_created_after_its_own_cancellation_holds_nothing() {
        let buyer = new_id();
        let order = new_id();
        let mut line = Line::loaded(
            TicketState {
                listed: true,
                ..TicketState::default()
            },
            vec![],
            0,
            Some((buyer, None)),
        );
        rules().order_cancelled(&mut line, order, NOW);
        rules().order_placed(&mut line, order, NOW + Duration::minutes(15));
        assert_eq!(line.state.holder, None);
    }

    #[test]
    fn a_sale_clears_the_line() {
        let mut line = Line::loaded(held_by(new_id()), vec![new_id()], 5, None);
        rules().order_completed(&mut line);
        assert_eq!((line.len(), line.state.gone), (0, Some(Gone::Sold)));
        assert_eq!(line.ops(), &[LineOp::Clear]);
    }

    #[test]
    fn the_wait_counts_the_rest_of_the_hold_and_a_turn_per_buyer_ahead() {
        let user = new_id();
        let state = held_by(new_id());
        let place = rules().place(&state, user, 3, 3, NOW);
        assert_eq!(place.estimated_wait_seconds, 600 + 2 * 120);
        let mine = TicketState {
            turn: Some(Turn {
                user_id: user,
                expires_at: NOW + Duration::seconds(30),
            }),
            holder: None,
            ..state
        };
        let place = rules().place(&mine, user, 1, 3, NOW);
        assert_eq!(
            (place.estimated_wait_seconds, place.turn_expires_at),
            (0, Some(NOW + Duration::seconds(30)))
        );
    }
}
