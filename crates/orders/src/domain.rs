//! Orders, their state machine, and the ticket replica's version rule. Pure.

use boxoffice_common::{Id, Money};
use time::OffsetDateTime;

pub const TICKET_ID_REQUIRED: &str = "TicketId must be provided";
pub const ALREADY_RESERVED: &str = "Ticket is already reserved";
pub const OWN_TICKET: &str = "Cannot buy your own ticket";
pub const CANNOT_CANCEL_COMPLETED: &str = "Cannot cancel a completed order";
pub const ALREADY_CANCELLED: &str = "Order is already cancelled";
pub const NEXT_IN_LINE: &str = "Ticket is reserved for the next buyer in line";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatus {
    /// Holds its ticket until `expires_at`.
    Created,
    /// A payment is in flight; the hold may extend up to a ceiling.
    AwaitingPayment,
    /// Paid. Final.
    Complete,
    /// Final.
    Cancelled,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::AwaitingPayment => "awaiting:payment",
            Self::Complete => "complete",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "created" => Some(Self::Created),
            "awaiting:payment" => Some(Self::AwaitingPayment),
            "complete" => Some(Self::Complete),
            "cancelled" => Some(Self::Cancelled),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelReason {
    User,
    Expired,
    PaymentFailed,
}

impl CancelReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Expired => "expired",
            Self::PaymentFailed => "payment_failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "user" => Some(Self::User),
            "expired" => Some(Self::Expired),
            "payment_failed" => Some(Self::PaymentFailed),
            _ => None,
        }
    }
}

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
    pub ticket: OrderedTicket,
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

impl Order {
    /// The buyer cancels. Only a live order can be cancelled.
    pub fn cancel_by(&mut self, user: Id) -> Result<(), OrderError> {
        if self.user_id != user {
            return Err(OrderError::NotOwner);
        }
        match self.status {
            OrderStatus::Complete => Err(OrderError::Refused(CANNOT_CANCEL_COMPLETED)),
            OrderStatus::Cancelled => Err(OrderError::Refused(ALREADY_CANCELLED)),
            OrderStatus::Created | OrderStatus::AwaitingPayment => {
                self.cancel(CancelReason::User);
                Ok(())
            }
        }
    }

    /// The hold ran out. A `created` or `awaiting:payment` order whose `expires_at` has
    /// passed is cancelled; paid and cancelled orders, and holds that were extended since
    /// the job was scheduled, are left alone. `false` when nothing changed.
    pub fn expire(&mut self, now: OffsetDateTime) -> bool {
        let live = matches!(
            self.status,
            OrderStatus::Created | OrderStatus::AwaitingPayment
        );
        if !live || now + EXPIRY_SLACK < self.expires_at {
            return false;
        }
        self.cancel(CancelReason::Expired);
        true
    }

    /// A payment started: the order waits for it, and the hold extends to `now +
    /// ceiling` if that is later. Only a `created` order whose hold has not ended moves.
    pub fn await_payment(&mut self, now: OffsetDateTime, ceiling: std::time::Duration) -> bool {
        if self.status != OrderStatus::Created || now >= self.expires_at {
            return false;
        }
        self.status = OrderStatus::AwaitingPayment;
        self.expires_at = self.expires_at.max(now + ceiling);
        self.version += 1;
        true
    }

    /// The payment failed: back to `created` until the original hold ends, or cancelled
    /// with `payment_failed` if that moment has passed.
    pub fn payment_failed(&mut self, now: OffsetDateTime) -> bool {
        if self.status != OrderStatus::AwaitingPayment {
            return false;
        }
        if now < self.hold_until {
            self.status = OrderStatus::Created;
            self.expires_at = self.hold_until;
            self.version += 1;
        } else {
            self.cancel(CancelReason::PaymentFailed);
        }
        true
    }

    /// Paid. Only a live order completes; money for any other order is refunded by the
    /// payments service.
    pub fn complete(&mut self) -> bool {
        if !matches!(
            self.status,
            OrderStatus::Created | OrderStatus::AwaitingPayment
        ) {
            return false;
        }
        self.status = OrderStatus::Complete;
        self.version += 1;
        true
    }

    fn cancel(&mut self, reason: CancelReason) {
        self.status = OrderStatus::Cancelled;
        self.cancel_reason = Some(reason);
        self.version += 1;
    }
}

/// The queue service's word on a ticket's line (`queue:line`), newest version kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineGate {
    pub ticket_id: Id,
    pub version: i64,
    /// Buyers in line, the one whose turn it is included.
    pub waiting: u64,
    /// Whose exclusive turn it is, and until when.
    pub turn: Option<(Id, OffsetDateTime)>,
}

impl LineGate {
    /// Whether `buyer` may order the ticket at `now`: anyone when nobody waits; otherwise
    /// only the buyer whose turn it is, while it lasts. Between two turns (the queue
    /// service has not yet handed the turn on) nobody may: the line comes first.
    pub fn admits(&self, buyer: Id, now: OffsetDateTime) -> bool {
        self.waiting == 0
            || self
                .turn
                .is_some_and(|(user, until)| user == buyer && now < until)
    }
}

/// The orders service's copy of a ticket, kept current by ticket events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketReplica {
    pub id: Id,
    pub title: String,
    pub price: Money,
    /// The seller.
    pub user_id: Id,
    pub version: i64,
    pub deleted: bool,
}

/// What to do with a versioned replica update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionCheck {
    /// It is the next version: apply it.
    Apply,
    /// Already applied or superseded: drop it.
    Stale,
    /// A version in between is missing: retry later.
    Early,
}

/// Replicas apply version n only on top of n − 1.
pub fn check_version(current: Option<i64>, incoming: i64) -> VersionCheck {
    match current {
        None if incoming == 0 => VersionCheck::Apply,
        None => VersionCheck::Early,
        Some(current) if incoming <= current => VersionCheck::Stale,
        Some(current) if incoming == current + 1 => VersionCheck::Apply,
        Some(_) => VersionCheck::Early,
    }
}

#[cfg(test)]
mod tests {
    use boxoffice_common::new_id;

    use super::*;

    fn order(status: OrderStatus) -> Order {
        Order {
            id: new_id(),
            user_id: new_id(),
            ticket: OrderedTicket {
                id: new_id(),
                title: "Concert".into(),
                price: Money::from_minor(2000),
                version: 0,
            },
            status,
            expires_at: OffsetDateTime::UNIX_EPOCH,
            hold_until: OffsetDateTime::UNIX_EPOCH,
            version: 0,
            created_at: OffsetDateTime::UNIX_EPOCH,
            cancel_reason: None,
        }
    }

    #[test]
    fn the_buyer_cancels_a_live_order_once() {
        let mut live = order(OrderStatus::Created);
        let buyer = live.user_id;
        assert_eq!(live.cancel_by(new_id()), Err(OrderError::NotOwner));
        live.cancel_by(buyer).expect("cancel");
        assert_eq!(
            (live.status, live.cancel_reason, live.version),
            (OrderStatus::Cancelled, Some(CancelReason::User), 1)
        );
        assert_eq!(
            live.cancel_by(buyer),
            Err(OrderError::Refused(ALREADY_CANCELLED))
        );

        let mut paid = order(OrderStatus::Complete);
        let buyer = paid.user_id;
        assert_eq!(
            paid.cancel_by(buyer),
            Err(OrderError::Refused(CANNOT_CANCEL_COMPLETED))
        );
    }

    fn later(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(seconds)
    }

    #[test]
    fn only_live_orders_past_their_hold_expire() {
        let mut live = order(OrderStatus::Created);
        live.expires_at = later(60);
        assert!(!live.expire(later(30)), "not yet");
        assert!(live.expire(later(60)));
        assert_eq!(live.cancel_reason, Some(CancelReason::Expired));
        assert!(!live.expire(later(90)), "a second expiry changes nothing");
        let mut paid = order(OrderStatus::Complete);
        assert!(!paid.expire(later(90)));
        assert_eq!(paid.status, OrderStatus::Complete);
    }

    #[test]
    fn a_payment_in_flight_extends_the_hold_up_to_the_ceiling() {
        let mut o = order(OrderStatus::Created);
        o.expires_at = later(60);
        o.hold_until = later(60);
        assert!(o.await_payment(later(50), std::time::Duration::from_secs(600)));
        assert_eq!(
            (o.status, o.expires_at, o.version),
            (OrderStatus::AwaitingPayment, later(650), 1)
        );
        assert!(
            !o.expire(later(61)),
            "the original expiry no longer applies"
        );
        assert!(o.expire(later(650)), "the ceiling does");

        let mut late = order(OrderStatus::Created);
        late.expires_at = later(60);
        assert!(
            !late.await_payment(later(61), std::time::Duration::from_secs(600)),
            "the hold already ended"
        );
    }

    #[test]
    fn a_failed_payment_falls_back_to_the_hold_or_cancels() {
        let mut o = order(OrderStatus::Created);
        o.expires_at = later(60);
        o.hold_until = later(60);
        o.await_payment(later(10), std::time::Duration::from_secs(600));
        assert!(o.payment_failed(later(20)));
        assert_eq!((o.status, o.expires_at), (OrderStatus::Created, later(60)));

        o.await_payment(later(30), std::time::Duration::from_secs(600));
        assert!(o.payment_failed(later(61)));
        assert_eq!(
            (o.status, o.cancel_reason),
            (OrderStatus::Cancelled, Some(CancelReason::PaymentFailed))
        );
    }

    #[test]
    fn only_live_orders_complete() {
        assert!(order(OrderStatus::Created).complete());
        assert!(order(OrderStatus::AwaitingPayment).complete());
        assert!(!order(OrderStatus::Cancelled).complete());
        assert!(!order(OrderStatus::Complete).complete());
    }

    #[test]
    fn versions_apply_in_order_only() {
        assert_eq!(check_version(None, 0), VersionCheck::Apply);
        assert_eq!(check_version(None, 2), VersionCheck::Early);
        assert_eq!(check_version(Some(1), 2), VersionCheck::Apply);
        assert_eq!(check_version(Some(1), 1), VersionCheck::Stale);
        assert_eq!(check_version(Some(3), 1), VersionCheck::Stale);
        assert_eq!(check_version(Some(1), 3), VersionCheck::Early);
    }
}
