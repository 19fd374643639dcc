//! The payments service's copy of an order: who may pay, how much, and whether it still
//! can be paid.

use boxoffice_common::{Id, Money};

use super::{ORDER_CANCELLED, ORDER_PAID};

/// Where the order stands, as far as paying for it is concerned. Coarser than the shared
/// [`boxoffice_common::order::OrderStatus`]: `created` and `awaiting:payment` are both
/// `open` here, which is all a payment needs (and what the replica table stores).
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
