//! The words every service uses for an order's state: its status and why it was cancelled.
//!
//! They travel in events (`order:created.status`, `order:cancelled.reason`) and in API
//! bodies, so they are declared once here with their wire spelling.

use serde::{Deserialize, Serialize};

/// Where an order stands (CONTRACT.md §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OrderStatus {
    /// Holds its ticket until its hold ends.
    #[serde(rename = "created")]
    Created,
    /// A payment is in flight; the hold may extend up to a ceiling.
    #[serde(rename = "awaiting:payment")]
    AwaitingPayment,
    /// Paid. Final.
    #[serde(rename = "complete")]
    Complete,
    /// Final.
    #[serde(rename = "cancelled")]
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

    /// Whether the order still holds its ticket and can be paid.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Created | Self::AwaitingPayment)
    }
}

/// Why an order was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    /// The buyer cancelled it.
    User,
    /// Its hold ended unpaid.
    Expired,
    /// Its payment failed after the hold had ended.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_reasons_round_trip_through_their_wire_names() {
        for status in [
            OrderStatus::Created,
            OrderStatus::AwaitingPayment,
            OrderStatus::Complete,
            OrderStatus::Cancelled,
        ] {
            assert_eq!(OrderStatus::parse(status.as_str()), Some(status));
            let json = serde_json::to_string(&status).expect("serialize");
            assert_eq!(json, format!("\"{}\"", status.as_str()));
            assert_eq!(
                serde_json::from_str::<OrderStatus>(&json).ok(),
                Some(status)
            );
        }
        for reason in [
            CancelReason::User,
            CancelReason::Expired,
            CancelReason::PaymentFailed,
        ] {
            assert_eq!(CancelReason::parse(reason.as_str()), Some(reason));
            let json = serde_json::to_string(&reason).expect("serialize");
            assert_eq!(json, format!("\"{}\"", reason.as_str()));
        }
        assert_eq!(OrderStatus::parse("pending"), None);
        assert_eq!(CancelReason::parse("bored"), None);
    }
}
