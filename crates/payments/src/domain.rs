//! Payments, the order replica they are checked against, and the rules. Pure.

use boxoffice_common::{Id, Money};
use time::OffsetDateTime;

pub const TOKEN_REQUIRED: &str = "Token is required";
pub const ORDER_ID_REQUIRED: &str = "OrderId is required";
pub const ORDER_CANCELLED: &str = "Cannot pay for a cancelled order";
pub const ORDER_PAID: &str = "Order has already been paid for";
pub const PAYMENT_IN_PROGRESS: &str = "A payment for this order is already in progress";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatus {
    /// Sent to the provider, no answer yet (or the provider works asynchronously).
    Processing,
    /// The payer must finish 3-D Secure with the client secret.
    RequiresAction,
    /// The money is ours; `payment:created` was published.
    Succeeded,
    /// Declined or authentication failed; no money moved.
    Failed,
    /// The money arrived for an order that could no longer be paid; it is being returned.
    Refunding,
    /// Returned to the payer; `payment:refunded` was published.
    Refunded,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Processing => "processing",
            Self::RequiresAction => "requires_action",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Refunding => "refunding",
            Self::Refunded => "refunded",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "processing" => Self::Processing,
            "requires_action" => Self::RequiresAction,
            "succeeded" => Self::Succeeded,
            "failed" => Self::Failed,
            "refunding" => Self::Refunding,
            "refunded" => Self::Refunded,
            _ => return None,
        })
    }

    /// Still able to take money: at most one such payment per order (a unique index).
    pub fn is_active(self) -> bool {
        matches!(
            self,
            Self::Processing | Self::RequiresAction | Self::Succeeded
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub id: Id,
    pub order_id: Id,
    /// The payer.
    pub user_id: Id,
    pub amount: Money,
    pub currency: String,
    pub status: PaymentStatus,
    /// The provider's id (Stripe PaymentIntent `pi_…`).
    pub provider_id: Option<String>,
    /// Handed to the payer's browser to finish 3-D Secure.
    pub client_secret: Option<String>,
    /// The provider's message when declined.
    pub failure: Option<String>,
    pub created_at: OffsetDateTime,
}

/// Where the order stands, as far as paying for it is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderState {
    /// `created` or `awaiting:payment`: payable.
    Open,
    Complete,
    Cancelled,
}

impl OrderState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Complete => "complete",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "open" => Self::Open,
            "complete" => Self::Complete,
            "cancelled" => Self::Cancelled,
            _ => return None,
        })
    }
}

/// The payments service's copy of an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderReplica {
    pub id: Id,
    pub user_id: Id,
    pub amount: Money,
    pub state: OrderState,
    pub version: i64,
}

impl OrderReplica {
    /// Why this order cannot be paid now, if it cannot.
    pub fn refuse_payment(&self) -> Option<&'static str> {
        match self.state {
            OrderState::Open => None,
            OrderState::Complete => Some(ORDER_PAID),
            OrderState::Cancelled => Some(ORDER_CANCELLED),
        }
    }
}

/// What to do when the provider says a payment's money arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// Keep it: the order completes.
    Keep,
    /// Give it back: the order was cancelled or paid otherwise meanwhile.
    Refund,
    /// Already settled; nothing to do.
    AlreadyDone,
}

/// Money arrived for `payment`; decide with what we know of its order.
pub fn settle(payment: &Payment, order: Option<&OrderReplica>) -> Settlement {
    match payment.status {
        PaymentStatus::Succeeded | PaymentStatus::Refunding | PaymentStatus::Refunded => {
            Settlement::AlreadyDone
        }
        // A payment we gave up on (declined, provider error) that succeeds after all is
        // money we did not expect: return it.
        PaymentStatus::Failed => Settlement::Refund,
        PaymentStatus::Processing | PaymentStatus::RequiresAction => match order.map(|o| o.state) {
            Some(OrderState::Open) | None => Settlement::Keep,
            Some(OrderState::Complete | OrderState::Cancelled) => Settlement::Refund,
        },
    }
}

#[cfg(test)]
mod tests {
    use boxoffice_common::new_id;

    use super::*;

    fn payment(status: PaymentStatus) -> Payment {
        Payment {
            id: new_id(),
            order_id: new_id(),
            user_id: new_id(),
            amount: Money::from_minor(2000),
            currency: "usd".into(),
            status,
            provider_id: None,
            client_secret: None,
            failure: None,
            created_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn order(state: OrderState) -> OrderReplica {
        OrderReplica {
            id: new_id(),
            user_id: new_id(),
            amount: Money::from_minor(2000),
            state,
            version: 0,
        }
    }

    #[test]
    fn money_for_an_open_order_is_kept_and_late_money_is_returned() {
        let pending = payment(PaymentStatus::Processing);
        assert_eq!(
            settle(&pending, Some(&order(OrderState::Open))),
            Settlement::Keep
        );
        assert_eq!(
            settle(&pending, Some(&order(OrderState::Cancelled))),
            Settlement::Refund
        );
        assert_eq!(
            settle(&pending, Some(&order(OrderState::Complete))),
            Settlement::Refund
        );
        assert_eq!(
            settle(
                &payment(PaymentStatus::Failed),
                Some(&order(OrderState::Open))
            ),
            Settlement::Refund
        );
        assert_eq!(
            settle(&payment(PaymentStatus::Succeeded), None),
            Settlement::AlreadyDone
        );
    }

    #[test]
    fn closed_orders_refuse_payment_with_the_contracts_messages() {
        assert_eq!(order(OrderState::Open).refuse_payment(), None);
        assert_eq!(
            order(OrderState::Cancelled).refuse_payment(),
            Some(ORDER_CANCELLED)
        );
        assert_eq!(
            order(OrderState::Complete).refuse_payment(),
            Some(ORDER_PAID)
        );
    }
}
