//! Orders, their state machine, and the ticket replica's version rule. Pure.

use boxoffice_common::{Id, Money};
use time::OffsetDateTime;

pub const TICKET_ID_REQUIRED: &str = "TicketId must be provided";
pub const ALREADY_RESERVED: &str = "Ticket is already reserved";
pub const OWN_TICKET: &str = "Cannot buy your own ticket";
pub const CANNOT_CANCEL_COMPLETED: &str = "Cannot cancel a completed order";
pub const ALREADY_CANCELLED: &str = "Order is already cancelled";

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
    pub expires_at: OffsetDateTime,
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub cancel_reason: Option<CancelReason>,
}

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

    /// The hold ran out. Only an order still `created` expires; anything else (paid,
    /// already cancelled, or with a payment in flight) is left alone. `false` when
    /// nothing changed.
    pub fn expire(&mut self) -> bool {
        if self.status != OrderStatus::Created {
            return false;
        }
        self.cancel(CancelReason::Expired);
        true
    }

    fn cancel(&mut self, reason: CancelReason) {
        self.status = OrderStatus::Cancelled;
        self.cancel_reason = Some(reason);
        self.version += 1;
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

    #[test]
    fn only_created_orders_expire() {
        let mut live = order(OrderStatus::Created);
        assert!(live.expire());
        assert_eq!(live.cancel_reason, Some(CancelReason::Expired));
        assert!(!live.expire(), "a second expiry changes nothing");
        for status in [OrderStatus::Complete, OrderStatus::AwaitingPayment] {
            let mut other = order(status);
            assert!(!other.expire());
            assert_eq!(other.status, status);
        }
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
