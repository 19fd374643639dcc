//! Orders and their state machine. Pure.
//!
//! Each transition is a method on [`Order`] that changes the order and returns the event
//! payload it causes (or `None` when it changes nothing), so a rule and what it tells the
//! other services are decided together and tested together, here. The service only wraps
//! a payload in an envelope. What the orders service knows of other services — the
//! [`TicketReplica`] with its version rule, and each ticket's [`LineGate`] — lives in
//! `domain/replica.rs`; the state machine's tests in `domain/tests.rs`.

mod replica;

use boxoffice_common::events::{
    OrderCancelled, OrderCompleted, OrderCreated, OrderExtended, OrderRefused, OrderTicket,
    RefusalReason,
};
pub use boxoffice_common::order::{CancelReason, OrderStatus};
use boxoffice_common::{Id, Money, OrderId, UserId};
use time::OffsetDateTime;

pub use self::replica::{LineGate, RoomGate, TicketReplica, VersionCheck, check_version};

pub const TICKET_ID_REQUIRED: &str = "TicketId must be provided";
pub const ALREADY_RESERVED: &str = "Ticket is already reserved";
pub const OWN_TICKET: &str = "Cannot buy your own ticket";
pub const CANNOT_CANCEL_COMPLETED: &str = "Cannot cancel a completed order";
pub const ALREADY_CANCELLED: &str = "Order is already cancelled";
pub const NEXT_IN_LINE: &str = "Ticket is reserved for the next buyer in line";

/// The ticket as the order saw it when it was placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderedTicket {
    pub id: Id,
    pub title: String,
    pub price: Money,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: Id,
    /// The buyer.
    pub user_id: Id,
    /// The first ticket the buyer asked for: the one ticket of a one-ticket order, and
    /// what one-ticket clients see as the order's `ticket`.
    pub ticket: OrderedTicket,
    /// The basket's other tickets, in the order the buyer asked for them. The order
    /// holds all of its tickets or none: every transition acts on them together.
    pub more_tickets: Vec<OrderedTicket>,
    pub status: OrderStatus,
    /// When the hold ends: the creation window, pushed out while a payment is in flight.
    pub expires_at: OffsetDateTime,
    /// The end of the creation window, kept so a failed payment can fall back to it.
    pub hold_until: OffsetDateTime,
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub cancel_reason: Option<CancelReason>,
}

/// Clocks of different processes disagree a little; an expiry this close is due.
const EXPIRY_SLACK: time::Duration = time::Duration::seconds(1);

/// A request the state machine refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    #[error("not the owner")]
    NotOwner,
    #[error("{0}")]
    Refused(&'static str),
}

/// What a change to an order tells the other services: one of the order events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderEvent {
    Created(OrderCreated),
    Extended(OrderExtended),
    Cancelled(OrderCancelled),
    Completed(OrderCompleted),
    /// An authorized payment was refused; the payments service voids it.
    Refused(OrderRefused),
}

/// Why `buyer` may not have `ticket` at `now`, if they may not: the checks of one ticket
/// in the order the contract answers them — their own ticket, held by a live or paid
/// order (`held`), someone else's turn in the ticket's line. Whether the ticket exists
/// is the caller's to know; whether it is still free when the order is saved, the
/// store's to decide.
pub fn refusal(
    buyer: UserId,
    ticket: &TicketReplica,
    held: bool,
    line: Option<&LineGate>,
    now: OffsetDateTime,
) -> Option<&'static str> {
    if ticket.user_id == buyer.get() {
        Some(OWN_TICKET)
    } else if held {
        Some(ALREADY_RESERVED)
    } else if line.is_some_and(|gate| !gate.admits(buyer, now)) {
        Some(NEXT_IN_LINE)
    } else {
        None
    }
}

impl From<TicketReplica> for OrderedTicket {
    fn from(ticket: TicketReplica) -> Self {
        Self {
            id: ticket.id,
            title: ticket.title,
            price: ticket.price,
            version: ticket.version,
        }
    }
}

impl Order {
    /// `buyer` orders `tickets` (at least one, as asked) at `now`; the order holds them
    /// for `window`. A seller cannot buy their own ticket. Whether the tickets are free is
    /// the store's to decide, for all of them at once.
    pub fn place(
        id: OrderId,
        buyer: UserId,
        tickets: Vec<TicketReplica>,
        now: OffsetDateTime,
        window: std::time::Duration,
    ) -> Result<(Self, OrderCreated), OrderError> {
        if tickets.iter().any(|ticket| ticket.user_id == buyer.get()) {
            return Err(OrderError::Refused(OWN_TICKET));
        }
        let mut tickets = tickets.into_iter().map(OrderedTicket::from);
        let first = tickets
            .next()
            .ok_or(OrderError::Refused(TICKET_ID_REQUIRED))?;
        let order = Self {
            id: id.get(),
            user_id: buyer.get(),
            ticket: first,
            more_tickets: tickets.collect(),
            status: OrderStatus::Created,
            expires_at: now + window,
            hold_until: now + window,
            version: 0,
            created_at: now,
            cancel_reason: None,
        };
        let created = OrderCreated {
            id: order.id,
            version: order.version,
            status: order.status,
            user_id: order.user_id,
            expires_at: order.expires_at,
            ticket: Self::priced(&order.ticket),
            tickets: order.priced_tickets(),
        };
        Ok((order, created))
    }

    /// Every ticket of the order, the first one first.
    pub fn tickets(&self) -> impl Iterator<Item = &OrderedTicket> {
        std::iter::once(&self.ticket).chain(&self.more_tickets)
    }

    /// What the order costs: the sum of its tickets' prices.
    pub fn total(&self) -> Money {
        Money::from_minor(self.tickets().map(|ticket| ticket.price.minor()).sum())
    }

    /// The buyer cancels. Only a live order can be cancelled.
    pub fn cancel_by(&mut self, user: UserId) -> Result<OrderCancelled, OrderError> {
        if self.user_id != user.get() {
            return Err(OrderError::NotOwner);
        }
        match self.status {
            OrderStatus::Complete => Err(OrderError::Refused(CANNOT_CANCEL_COMPLETED)),
            OrderStatus::Cancelled => Err(OrderError::Refused(ALREADY_CANCELLED)),
            OrderStatus::Created | OrderStatus::AwaitingPayment => {
                Ok(self.cancel(CancelReason::User))
            }
        }
    }

    /// The hold ran out. A `created` or `awaiting:payment` order whose `expires_at` has
    /// passed is cancelled; paid and cancelled orders, and holds that were extended since
    /// the job was scheduled, are left alone (`None`).
    pub fn expire(&mut self, now: OffsetDateTime) -> Option<OrderCancelled> {
        if !self.status.is_open() || now + EXPIRY_SLACK < self.expires_at {
            return None;
        }
        Some(self.cancel(CancelReason::Expired))
    }

    /// A payment started: the order waits for it, and the hold extends to `now +
    /// ceiling` if that is later. Only a `created` order whose hold has not ended moves.
    pub fn await_payment(
        &mut self,
        now: OffsetDateTime,
        ceiling: std::time::Duration,
    ) -> Option<OrderExtended> {
        if self.status != OrderStatus::Created || now >= self.expires_at {
            return None;
        }
        self.status = OrderStatus::AwaitingPayment;
        self.expires_at = self.expires_at.max(now + ceiling);
        self.version += 1;
        Some(self.extended())
    }

    /// The payment failed: back to `created` until the original hold ends (`Extended`),
    /// or cancelled with `payment_failed` if that moment has passed (`Cancelled`).
    pub fn payment_failed(&mut self, now: OffsetDateTime) -> Option<OrderEvent> {
        if self.status != OrderStatus::AwaitingPayment {
            return None;
        }
        if now < self.hold_until {
            self.status = OrderStatus::Created;
            self.expires_at = self.hold_until;
            self.version += 1;
            Some(OrderEvent::Extended(self.extended()))
        } else {
            Some(OrderEvent::Cancelled(
                self.cancel(CancelReason::PaymentFailed),
            ))
        }
    }

    /// Paid. Only a live order completes; money for any other order is refunded by the
    /// payments service.
    pub fn complete(&mut self) -> Option<OrderCompleted> {
        if !self.status.is_open() {
            return None;
        }
        self.status = OrderStatus::Complete;
        self.version += 1;
        Some(OrderCompleted {
            id: self.id,
            version: self.version,
            ticket: Self::unpriced(&self.ticket),
            tickets: self.unpriced_tickets(),
        })
    }

    /// Payment `payment` holds the order's amount on the payer's card and asks for the
    /// order: this is the one decision on whether its money is taken. An order that still
    /// holds its ticket completes (`order:completed`, and the payment is captured); one
    /// whose hold has ended is cancelled as expired and refuses; a cancelled one refuses
    /// (`order:refused`, and the payment is voided).
    ///
    /// A completed order answers nothing: the payments service lets only one payment per
    /// order be authorized at a time, so the asker is the payer whose `order:completed`
    /// is already on its way — refusing it would void the money for a sold ticket.
    pub fn decide_payment(&mut self, payment: Id, now: OffsetDateTime) -> Vec<OrderEvent> {
        match self.status {
            OrderStatus::Complete => vec![],
            OrderStatus::Cancelled => vec![self.refuse(payment, RefusalReason::Cancelled)],
            OrderStatus::Created | OrderStatus::AwaitingPayment if now < self.expires_at => self
                .complete()
                .map(OrderEvent::Completed)
                .into_iter()
                .collect(),
            OrderStatus::Created | OrderStatus::AwaitingPayment => {
                let cancelled = self.cancel(CancelReason::Expired);
                vec![
                    OrderEvent::Cancelled(cancelled),
                    self.refuse(payment, RefusalReason::Expired),
                ]
            }
        }
    }

    fn refuse(&self, payment: Id, reason: RefusalReason) -> OrderEvent {
        OrderEvent::Refused(OrderRefused {
            id: self.id,
            version: self.version,
            payment_id: payment,
            reason,
        })
    }

    fn cancel(&mut self, reason: CancelReason) -> OrderCancelled {
        self.status = OrderStatus::Cancelled;
        self.cancel_reason = Some(reason);
        self.version += 1;
        OrderCancelled {
            id: self.id,
            version: self.version,
            reason,
            ticket: Self::unpriced(&self.ticket),
            tickets: self.unpriced_tickets(),
        }
    }

    /// The order as `order:extended` tells it: its hold's end moved.
    fn extended(&self) -> OrderExtended {
        OrderExtended {
            id: self.id,
            version: self.version,
            status: self.status,
            expires_at: self.expires_at,
            ticket: Self::priced(&self.ticket),
            tickets: self.priced_tickets(),
        }
    }

    /// A ticket as events that let payments charge for it carry it.
    fn priced(ticket: &OrderedTicket) -> OrderTicket {
        OrderTicket {
            id: ticket.id,
            price: Some(ticket.price.minor()),
        }
    }

    fn priced_tickets(&self) -> Vec<OrderTicket> {
        self.tickets().map(Self::priced).collect()
    }

    /// A ticket as the contract's `order:cancelled` and `order:completed` carry it.
    fn unpriced(ticket: &OrderedTicket) -> OrderTicket {
        OrderTicket {
            id: ticket.id,
            price: None,
        }
    }

    fn unpriced_tickets(&self) -> Vec<OrderTicket> {
        self.tickets().map(Self::unpriced).collect()
    }
}

#[cfg(test)]
mod tests;
