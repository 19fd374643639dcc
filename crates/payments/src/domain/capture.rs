//! Authorize, decide, then capture or void: the moves of a payment between the provider
//! holding the money and the money being taken or released.
//!
//! The orders service is the one authority on an order, so the payments service never
//! takes money on its own word: an authorized payment asks (`payment:authorized`), the
//! answer is recorded as a [`Verdict`] (`capturing` or `voiding`) in the transaction that
//! consumes it, and only then is the provider told — after the commit, retried until it
//! agrees, so a crash in between resumes instead of forgetting.

use boxoffice_common::events::{PaymentAuthorized, PaymentCreated, RefusalReason};

use super::{ORDER_CANCELLED, Payment, PaymentStatus};

/// The orders service's answer to an authorized payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The order completed for this payment: take the money.
    Capture,
    /// The order refused it: release the money, telling the payer why.
    Void(&'static str),
}

impl Verdict {
    /// The void a refusal calls for, with the contract's message for the payer.
    pub fn refused(reason: RefusalReason) -> Self {
        match reason {
            RefusalReason::Cancelled | RefusalReason::Expired => Self::Void(ORDER_CANCELLED),
        }
    }
}

impl Payment {
    /// The provider holds the amount (`provider_id`): ask the orders service for the
    /// order. Only a payment still waiting for the provider moves; `None` if none did.
    pub fn authorized(&mut self, provider_id: String) -> Option<PaymentAuthorized> {
        if !matches!(
            self.status,
            PaymentStatus::Processing | PaymentStatus::RequiresAction
        ) {
            return None;
        }
        self.status = PaymentStatus::Authorized;
        self.provider_id = Some(provider_id);
        self.client_secret = None;
        Some(self.ask())
    }

    /// The request an authorized payment sends to the orders service — again, when its
    /// answer is overdue. `None` unless the payment is still undecided.
    pub fn ask_again(&self) -> Option<PaymentAuthorized> {
        (self.status == PaymentStatus::Authorized).then(|| self.ask())
    }

    fn ask(&self) -> PaymentAuthorized {
        PaymentAuthorized {
            id: self.id,
            order_id: self.order_id,
            amount: self.amount.minor(),
        }
    }

    /// The orders service decided. Only an undecided (authorized) payment records a
    /// verdict; `false` when nothing moved — a repeated answer, or one for a payment that
    /// settled otherwise.
    pub fn decide(&mut self, verdict: Verdict) -> bool {
        if self.status != PaymentStatus::Authorized {
            return false;
        }
        match verdict {
            Verdict::Capture => self.status = PaymentStatus::Capturing,
            Verdict::Void(message) => {
                self.status = PaymentStatus::Voiding;
                self.failure = Some(message.to_owned());
            }
        }
        true
    }

    /// The provider took the held money: the payment succeeded and says so. `None`
    /// unless it was being captured.
    pub fn captured(&mut self) -> Option<PaymentCreated> {
        if self.status != PaymentStatus::Capturing {
            return None;
        }
        // An authorization always has the provider's id; without it there is nothing to
        // announce, and the payment stays as it is for the log to show.
        let provider_id = self.provider_id.clone()?;
        self.status = PaymentStatus::Succeeded;
        Some(PaymentCreated {
            id: self.id,
            order_id: self.order_id,
            provider_id,
        })
    }

    /// The provider released the held money. `false` unless it was being voided.
    pub fn voided(&mut self) -> bool {
        if self.status != PaymentStatus::Voiding {
            return false;
        }
        self.status = PaymentStatus::Voided;
        true
    }

    /// The payer's answer once the order decided: the payment itself while it is (or
    /// will be) taken, the refusal's message once it is (being) voided.
    pub fn refusal(&self) -> Option<&str> {
        match self.status {
            PaymentStatus::Voiding | PaymentStatus::Voided | PaymentStatus::Failed => {
                Some(self.failure.as_deref().unwrap_or(ORDER_CANCELLED))
            }
            _ => None,
        }
    }

    /// Whether the HTTP request that started this payment can answer now: the order
    /// decided (or the payment ended otherwise), or the payer has a step to take.
    pub fn is_decided(&self) -> bool {
        !matches!(
            self.status,
            PaymentStatus::Processing | PaymentStatus::Authorized | PaymentStatus::Capturing
        )
    }
}
