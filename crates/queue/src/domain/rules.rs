//! The rules: what a buyer's request, a ticket or order event, or the clock does to a
//! line. Each keeps the invariant that a free ticket with someone waiting is the head's
//! turn.

use boxoffice_common::Id;
use time::{Duration, OffsetDateTime};

use super::{
    ALREADY_HOLDING, Gone, Holder, Line, OWN_TICKET, QueueError, TICKET_AVAILABLE, TICKET_SOLD,
    Turn,
};

/// Cancelled orders a ticket remembers, so an `order:created` delivered after its own
/// cancellation holds nothing.
const CLOSED_ORDERS_KEPT: usize = 16;
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
