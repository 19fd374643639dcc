//! Payments, the order replica they are checked against, and the state machine. Pure.
//!
//! Every move of a payment is a method on [`Payment`] that changes it and returns the
//! event payload the move announces (or says that nothing moved); the service wraps the
//! payload in an envelope and the store saves both in one transaction.
//!
//! Authorize, decide, then capture or void (DESIGN.md §3 rule 6): the provider only holds
//! the money until the orders service has decided; the moves of that hand-shake live in
//! `domain/capture.rs`.
//!
//! | move                | from                            | to                                | announces            |
//! |---------------------|---------------------------------|-----------------------------------|----------------------|
//! | [`Payment::start`]  | —                               | processing                        | `payment:pending`    |
//! | `provider_answered` | processing                      | processing or requires_action     | —                    |
//! | `authorized`        | processing, requires_action     | authorized                        | `payment:authorized` |
//! | `decide`            | authorized                      | capturing or voiding              | —                    |
//! | `captured`          | capturing                       | succeeded                         | `payment:created`    |
//! | `voided`            | voiding                         | voided                            | —                    |
//! | `money_arrived`     | processing, requires_action     | succeeded (order open or unknown) | `payment:created`    |
//! |                     | capturing                       | succeeded (our capture, reported) | `payment:created`    |
//! |                     | the same (order closed), failed, voiding, voided | refunding (late money) | —          |
//! | `fail`              | processing, requires_action, authorized | failed                    | `payment:failed`     |
//! | `start_refund`      | succeeded (order cancelled)     | refunding                         | —                    |
//! | `refunded`          | any but refunded                | refunded                          | `payment:refunded`   |

use boxoffice_common::events::{PaymentCreated, PaymentFailed, PaymentPending, PaymentRefunded};
use boxoffice_common::{Id, Money, UserId, new_id};
use time::OffsetDateTime;

mod capture;
mod order;

pub use capture::Verdict;
pub use order::{OrderReplica, OrderState};

pub const TOKEN_REQUIRED: &str = "Token is required";
pub const ORDER_ID_REQUIRED: &str = "OrderId is required";
pub const ORDER_CANCELLED: &str = "Cannot pay for a cancelled order";
pub const ORDER_PAID: &str = "Order has already been paid for";
pub const PAYMENT_IN_PROGRESS: &str = "A payment for this order is already in progress";
pub const NOTHING_TO_AUTHENTICATE: &str = "This payment does not need authentication";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatus {
    /// Sent to the provider, no answer yet (or the provider works asynchronously).
    Processing,
    /// The payer must finish 3-D Secure with the client secret.
    RequiresAction,
    /// The provider holds the amount on the card; the orders service is asked (with
    /// `payment:authorized`) whether the order is still the payer's.
    Authorized,
    /// The order completed: the authorization is being captured.
    Capturing,
    /// The order refused: the authorization is being voided. `failure` says why.
    Voiding,
    /// The authorization was released; no money moved. `failure` says why.
    Voided,
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
            Self::Authorized => "authorized",
            Self::Capturing => "capturing",
            Self::Voiding => "voiding",
            Self::Voided => "voided",
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
            "authorized" => Self::Authorized,
            "capturing" => Self::Capturing,
            "voiding" => Self::Voiding,
            "voided" => Self::Voided,
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
            Self::Processing
                | Self::RequiresAction
                | Self::Authorized
                | Self::Capturing
                | Self::Succeeded
        )
    }

    /// The status a payer sees: the steps between authorizing and the capture are all
    /// `processing` to them (CONTRACT.md §6); a refused payment is `voided` as soon as
    /// the refusal is recorded, since from then on nothing can be taken.
    pub fn public(self) -> &'static str {
        match self {
            Self::Authorized | Self::Capturing => "processing",
            Self::Voiding => "voided",
            other => other.as_str(),
        }
    }
}

/// What the state machine refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    #[error("not the owner")]
    NotOwner,
    /// A rule refused; the message is for the payer.
    #[error("{0}")]
    Refused(&'static str),
    /// Money can be neither announced nor returned without the provider's id for it;
    /// publishing an empty one would hide the bug from everyone downstream.
    #[error("payment {0} has no provider id")]
    NoProviderId(Id),
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

/// What became of money the provider says arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arrival {
    /// Kept: the payment succeeded and the order completes.
    Kept(PaymentCreated),
    /// Late money: the payment is now `refunding`; the provider must be asked to return it.
    Refund,
    /// Settled before; nothing changed.
    AlreadyDone,
}

impl Payment {
    /// `payer` starts paying for `order` in `currency`: a `processing` payment and its
    /// `payment:pending`. Only the order's buyer may pay, and only while it is open.
    pub fn start(
        order: &OrderReplica,
        payer: UserId,
        currency: &str,
        now: OffsetDateTime,
    ) -> Result<(Self, PaymentPending), PaymentError> {
        if order.user_id != payer.get() {
            return Err(PaymentError::NotOwner);
        }
        if let Some(refusal) = order.refuse_payment() {
            return Err(PaymentError::Refused(refusal));
        }
        let payment = Self {
            id: new_id(),
            order_id: order.id,
            user_id: payer.get(),
            amount: order.amount,
            currency: currency.to_owned(),
            status: PaymentStatus::Processing,
            provider_id: None,
            client_secret: None,
            failure: None,
            created_at: now,
        };
        let pending = PaymentPending {
            id: payment.id,
            order_id: payment.order_id,
        };
        Ok((payment, pending))
    }

    /// The provider took the charge: it will answer later (no `client_secret`), or the
    /// payer must authenticate first. Only a `processing` payment moves; `false` if none.
    pub fn provider_answered(
        &mut self,
        provider_id: String,
        client_secret: Option<String>,
    ) -> bool {
        if self.status != PaymentStatus::Processing {
            return false;
        }
        if client_secret.is_some() {
            self.status = PaymentStatus::RequiresAction;
        }
        self.provider_id = Some(provider_id);
        self.client_secret = client_secret;
        true
    }

    /// The provider says the money arrived: keep it while the order is open (or not yet
    /// known here), return it otherwise.
    pub fn money_arrived(&mut self, provider_id: String, order: Option<&OrderReplica>) -> Arrival {
        self.provider_id = Some(provider_id.clone());
        match self.settlement(order) {
            Settlement::AlreadyDone => Arrival::AlreadyDone,
            Settlement::Keep => {
                self.status = PaymentStatus::Succeeded;
                self.failure = None;
                Arrival::Kept(PaymentCreated {
                    id: self.id,
                    order_id: self.order_id,
                    provider_id,
                })
            }
            Settlement::Refund => {
                self.status = PaymentStatus::Refunding;
                Arrival::Refund
            }
        }
    }

    /// Declined, authentication failed, the provider could not be reached, or it let an
    /// authorization lapse before the order decided. Only a payment still waiting fails;
    /// `None` if nothing changed.
    pub fn fail(&mut self, provider_id: Option<String>, message: String) -> Option<PaymentFailed> {
        if !matches!(
            self.status,
            PaymentStatus::Processing | PaymentStatus::RequiresAction | PaymentStatus::Authorized
        ) {
            return None;
        }
        self.status = PaymentStatus::Failed;
        self.provider_id = provider_id.or(self.provider_id.take());
        self.client_secret = None;
        let failed = PaymentFailed {
            id: self.id,
            order_id: self.order_id,
            reason: message.clone(),
        };
        self.failure = Some(message);
        Some(failed)
    }

    /// The order was cancelled after its money was kept: start giving it back. Only a
    /// `succeeded` payment moves; `false` if none.
    pub fn start_refund(&mut self) -> bool {
        if self.status != PaymentStatus::Succeeded {
            return false;
        }
        self.status = PaymentStatus::Refunding;
        true
    }

    /// The money is back with the payer. `provider_id` is the provider's word on which
    /// charge was refunded, used when this payment never learnt its own. `None` if it was
    /// already refunded.
    pub fn refunded(
        &mut self,
        provider_id: Option<String>,
    ) -> Result<Option<PaymentRefunded>, PaymentError> {
        if self.status == PaymentStatus::Refunded {
            return Ok(None);
        }
        if self.provider_id.is_none() {
            self.provider_id = provider_id;
        }
        let provider_id = self.charged_as()?.to_owned();
        self.status = PaymentStatus::Refunded;
        Ok(Some(PaymentRefunded {
            id: self.id,
            order_id: self.order_id,
            provider_id,
        }))
    }

    /// The provider's id for this payment's charge: what a refund or 3-D Secure names.
    pub fn charged_as(&self) -> Result<&str, PaymentError> {
        self.provider_id
            .as_deref()
            .ok_or(PaymentError::NoProviderId(self.id))
    }

    /// Whether `user` may finish 3-D Secure for this payment now.
    pub fn check_authentication_by(&self, user: UserId) -> Result<(), PaymentError> {
        if self.user_id != user.get() {
            return Err(PaymentError::NotOwner);
        }
        if self.status != PaymentStatus::RequiresAction {
            return Err(PaymentError::Refused(NOTHING_TO_AUTHENTICATE));
        }
        Ok(())
    }

    /// Money arrived for this payment; decide with what is known of its order.
    pub fn settlement(&self, order: Option<&OrderReplica>) -> Settlement {
        match self.status {
            PaymentStatus::Succeeded | PaymentStatus::Refunding | PaymentStatus::Refunded => {
                Settlement::AlreadyDone
            }
            // Our own capture, reported by the provider: the order completed for it.
            PaymentStatus::Capturing => Settlement::Keep,
            // A payment we gave up on (declined, provider error) or that the order refused
            // (voided) that succeeds after all is money we did not expect: return it.
            PaymentStatus::Failed | PaymentStatus::Voiding | PaymentStatus::Voided => {
                Settlement::Refund
            }
            PaymentStatus::Processing
            | PaymentStatus::RequiresAction
            | PaymentStatus::Authorized => match order.map(|o| o.state) {
                Some(OrderState::Open) | None => Settlement::Keep,
                Some(OrderState::Complete | OrderState::Cancelled) => Settlement::Refund,
            },
        }
    }
}

/// Why a second payment for an order was refused, given the order's active one (the
/// unique index let only one in).
pub fn refuse_second_payment(active: Option<PaymentStatus>) -> PaymentError {
    PaymentError::Refused(match active {
        Some(PaymentStatus::Succeeded) => ORDER_PAID,
        _ => PAYMENT_IN_PROGRESS,
    })
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

#[cfg(test)]
mod tests;
