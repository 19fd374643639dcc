//! The payments use-cases. Each asks the domain what a move means and saves the payment
//! with the events the move announces, wrapped here in their envelopes.
//!
//! * `charge` — pay for an order: start a payment, authorize it with the provider, wait
//!   (bounded) for the order's decision.
//! * `decide` — the orders service's decision (`order:completed` / `order:refused`):
//!   recorded, then the authorization captured or voided; steps left half-way resumed.
//! * `settle` — the provider's word arrives: webhooks, and 3-D Secure finished with the
//!   test processor; money is kept or, when late, returned.
//! * `refund` — money for a cancelled order goes back, retried until the provider agrees.

mod charge;
mod decide;
mod refund;
mod settle;

pub use decide::{ASK_AGAIN_AFTER, OrderDecision};

use std::sync::Arc;
use std::time::Duration;

use boxoffice_common::events::EventData;
use boxoffice_common::{Clock, Id, OrderId, PaymentId, UserId};
use boxoffice_platform::Secret;
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::fresh::FreshIds;
use boxoffice_platform::http::ApiError;
use boxoffice_platform::idempotency::IdempotencyKeys;
use boxoffice_platform::metrics;
use boxoffice_platform::telemetry::names::PAYMENTS;

use crate::decisions::Decisions;
use crate::domain::{Payment, PaymentError, PaymentStatus};
use crate::gateway::Gateway;
use crate::store::{Change, Decision, Modified, PaymentKey, PaymentStore, Trigger};
use crate::webhook::SignatureError;

/// Name of this service in event envelopes.
pub const SOURCE: &str = "payments";

#[derive(Debug, thiserror::Error)]
pub enum PaymentsError {
    #[error("not found")]
    NotFound,
    #[error("not the owner")]
    NotOwner,
    /// A rule refused the payment; the message is for the payer.
    #[error("{0}")]
    Refused(String),
    #[error("invalid webhook signature: {0}")]
    BadSignature(#[from] SignatureError),
    #[error("invalid webhook body")]
    BadWebhook,
    /// Only the test processor finishes 3-D Secure on the server.
    #[error("authentication cannot be finished here")]
    AuthenticationUnsupported,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<PaymentError> for PaymentsError {
    fn from(err: PaymentError) -> Self {
        match err {
            PaymentError::NotOwner => Self::NotOwner,
            PaymentError::Refused(message) => Self::Refused(message.to_owned()),
            PaymentError::NoProviderId(_) => Self::Internal(err.into()),
        }
    }
}

impl From<PaymentsError> for ApiError {
    fn from(err: PaymentsError) -> Self {
        match err {
            PaymentsError::NotFound | PaymentsError::AuthenticationUnsupported => Self::NotFound,
            PaymentsError::NotOwner => Self::Unauthorized,
            PaymentsError::Refused(message) => Self::BadRequest(message),
            PaymentsError::BadSignature(reason) => {
                Self::bad_request(format!("Invalid Stripe-Signature: {reason}"))
            }
            PaymentsError::BadWebhook => Self::bad_request("Invalid webhook body"),
            PaymentsError::Internal(e) => Self::Internal(e),
        }
    }
}

/// How long `POST /api/payments` waits for the order's decision by default.
pub const DEFAULT_DECISION_WAIT: Duration = Duration::from_secs(5);

/// Cheap to clone; shared by every request, the event consumer and the resumer.
#[derive(Debug, Clone)]
pub struct PaymentsService {
    store: Arc<dyn PaymentStore>,
    gateway: Gateway,
    clock: Arc<dyn Clock>,
    currency: String,
    webhook_secret: Secret,
    /// Requests waiting for their payment's decision, woken after each commit.
    decisions: Decisions,
    /// How long a request waits for the decision before answering `processing`.
    decision_wait: Duration,
    /// Requests for an order created moments ago wait here for the replica to learn it.
    fresh: FreshIds,
}

impl PaymentsService {
    pub fn new(
        store: Arc<dyn PaymentStore>,
        gateway: Gateway,
        clock: Arc<dyn Clock>,
        currency: String,
        webhook_secret: Secret,
    ) -> Self {
        Self {
            store,
            gateway,
            clock,
            currency,
            webhook_secret,
            decisions: Decisions::default(),
            decision_wait: DEFAULT_DECISION_WAIT,
            fresh: FreshIds::new(SOURCE, Duration::ZERO),
        }
    }

    /// The same service, with requests for fresh orders waiting on `fresh`.
    #[must_use]
    pub fn with_fresh_ids(mut self, fresh: FreshIds) -> Self {
        self.fresh = fresh;
        self
    }

    /// Where requests for orders created moments ago wait for the replica.
    pub fn fresh_ids(&self) -> &FreshIds {
        &self.fresh
    }

    /// The same service, with requests waiting up to `wait` for a payment's decision.
    #[must_use]
    pub fn with_decision_wait(mut self, wait: Duration) -> Self {
        self.decision_wait = wait;
        self
    }

    /// The waiters for payment decisions (tests look at how many wait).
    pub fn decisions(&self) -> &Decisions {
        &self.decisions
    }

    pub fn store(&self) -> &Arc<dyn PaymentStore> {
        &self.store
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Whether this service has heard of the order — waiting, bounded, for one created
    /// moments ago that its replica has not applied yet, so that a client paying right
    /// after ordering never sees the event plumbing as a 404.
    pub async fn knows_order(&self, order: OrderId) -> Result<bool, PaymentsError> {
        let id = order.get();
        let known = self.fresh.lookup(id, || self.store.order(id)).await?;
        Ok(known.is_some())
    }

    /// One payment, for its payer only.
    pub async fn payment_of(&self, payer: UserId, id: PaymentId) -> Result<Payment, PaymentsError> {
        let payment = self.current(id.get()).await?;
        if payment.user_id != payer.get() {
            return Err(PaymentsError::NotOwner);
        }
        Ok(payment)
    }

    /// Idempotency keys of `POST /api/payments`.
    pub fn idempotency(&self) -> Arc<dyn IdempotencyKeys> {
        self.store.idempotency()
    }

    /// The payment as it now is, after a change that did not return it.
    async fn current(&self, id: Id) -> Result<Payment, PaymentsError> {
        self.store
            .payment(PaymentKey::Id(id))
            .await?
            .ok_or(PaymentsError::NotFound)
    }

    /// Applies `change` to payment `id` once per `trigger`; the payment as it then is.
    async fn apply(
        &self,
        id: Id,
        trigger: Trigger<'_>,
        change: Change,
    ) -> Result<Payment, PaymentsError> {
        let outcome = self.store.modify(id, trigger, change).await?;
        self.settled(outcome, id).await
    }

    /// The payment a change left, read again if the change did not see it. A saved
    /// change wakes whoever waits for the payment.
    async fn settled(
        &self,
        outcome: Modified<Payment, PaymentError>,
        id: Id,
    ) -> Result<Payment, PaymentsError> {
        match outcome {
            Modified::Saved(payment) => {
                self.saved(&payment);
                Ok(payment)
            }
            Modified::Unchanged(payment) => Ok(payment),
            Modified::Refused(refusal) => Err(refusal.into()),
            Modified::Duplicate | Modified::Missing => self.current(id).await,
        }
    }
}

impl PaymentsService {
    /// After a change's commit: wakes whoever waits for the payment and counts an end.
    fn saved(&self, payment: &Payment) {
        self.decisions.settled(payment.id);
        if let PaymentStatus::Succeeded
        | PaymentStatus::Failed
        | PaymentStatus::Voided
        | PaymentStatus::Refunded = payment.status
        {
            metrics::counter!(PAYMENTS, "outcome" => payment.status.as_str()).increment(1);
        }
    }
}

/// Saves the change with the event `payload` announces, in a new envelope; keeps the
/// payment as it was when the domain says nothing moved.
fn announce<T: EventData>(clock: &dyn Clock, payload: Option<T>) -> Decision {
    match payload {
        Some(payload) => Decision::Save(vec![Envelope::new(SOURCE, clock.now(), &payload)]),
        None => Decision::Keep,
    }
}

/// Saves a change that announces nothing, if there was one.
fn save_if(changed: bool) -> Decision {
    if changed {
        Decision::Save(vec![])
    } else {
        Decision::Keep
    }
}
