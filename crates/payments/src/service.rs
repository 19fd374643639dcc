//! The payments use-cases: pay, receive the provider's webhooks, refund late money.

use std::sync::Arc;

use boxoffice_common::events::{PaymentCreated, PaymentFailed, PaymentPending, PaymentRefunded};
use boxoffice_common::{Clock, Id, new_id};
use boxoffice_platform::Secret;
use boxoffice_platform::bus::Envelope;

use crate::domain::{
    ORDER_PAID, OrderState, PAYMENT_IN_PROGRESS, Payment, PaymentStatus, Settlement, settle,
};
use crate::gateway::{AuthenticationError, ChargeOutcome, ChargeRequest, PaymentGateway};
use crate::store::{Decision, Modified, PaymentStore, Trigger};
use crate::webhook::{self, ProviderNews, SignatureError, StripeEvent};

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
    #[error("authentication cannot be finished here")]
    AuthenticationUnsupported,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Cheap to clone; shared by every request and the event consumer.
#[derive(Debug, Clone)]
pub struct PaymentsService {
    store: Arc<dyn PaymentStore>,
    gateway: Arc<dyn PaymentGateway>,
    clock: Arc<dyn Clock>,
    currency: String,
    webhook_secret: Secret,
}

fn event<T: boxoffice_common::events::EventData>(clock: &Arc<dyn Clock>, data: &T) -> Envelope {
    Envelope::new(SOURCE, clock.now(), data)
}

impl PaymentsService {
    pub fn new(
        store: Arc<dyn PaymentStore>,
        gateway: Arc<dyn PaymentGateway>,
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
        }
    }

    pub fn store(&self) -> &Arc<dyn PaymentStore> {
        &self.store
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Charges the order's price to `token`. At most one payment per order is active at
    /// a time (a unique index), so concurrent attempts charge at most once.
    pub async fn pay(&self, user: Id, order_id: Id, token: &str) -> Result<Payment, PaymentsError> {
        let order = self
            .store
            .order(order_id)
            .await?
            .ok_or(PaymentsError::NotFound)?;
        if order.user_id != user {
            return Err(PaymentsError::NotOwner);
        }
        if let Some(refusal) = order.refuse_payment() {
            return Err(PaymentsError::Refused(refusal.to_owned()));
        }
        let payment = Payment {
            id: new_id(),
            order_id,
            user_id: user,
            amount: order.amount,
            currency: self.currency.clone(),
            status: PaymentStatus::Processing,
            provider_id: None,
            client_secret: None,
            failure: None,
            created_at: self.clock.now(),
        };
        let pending = event(
            &self.clock,
            &PaymentPending {
                id: payment.id,
                order_id,
            },
        );
        if !self.store.insert_payment(&payment, &[pending]).await? {
            let active = self.store.active_payment(order_id).await?;
            let message = match active.map(|p| p.status) {
                Some(PaymentStatus::Succeeded) => ORDER_PAID,
                _ => PAYMENT_IN_PROGRESS,
            };
            return Err(PaymentsError::Refused(message.to_owned()));
        }

        let request = ChargeRequest {
            payment_id: payment.id,
            order_id,
            user_id: user,
            amount: payment.amount,
            currency: &payment.currency,
            token,
        };
        let outcome = match self.gateway.charge(&request).await {
            Ok(outcome) => outcome,
            Err(err) => {
                // Whether the provider charged is unknown. Give the order back; if the
                // money did arrive, its webhook finds a failed payment and refunds it.
                tracing::error!(payment = %payment.id, error = format!("{err:#}"), "payment provider call failed");
                self.fail(
                    payment.id,
                    None,
                    "The payment provider is unavailable; please try again.".to_owned(),
                    Trigger::Request,
                )
                .await?;
                return Err(err.into());
            }
        };
        match outcome {
            ChargeOutcome::Succeeded { provider_id } => {
                self.money_arrived(payment.id, Some(provider_id), Trigger::Request)
                    .await
            }
            ChargeOutcome::Processing { provider_id } => {
                self.note_provider(payment.id, provider_id, None).await
            }
            ChargeOutcome::RequiresAction {
                provider_id,
                client_secret,
            } => {
                self.note_provider(payment.id, provider_id, Some(client_secret))
                    .await
            }
            ChargeOutcome::Declined {
                provider_id,
                message,
            } => {
                self.fail(payment.id, provider_id, message.clone(), Trigger::Request)
                    .await?;
                Err(PaymentsError::Refused(message))
            }
        }
    }

    /// Verifies and applies a provider webhook. Each provider event id takes effect once.
    pub async fn receive_webhook(
        &self,
        body: &[u8],
        signature: Option<&str>,
    ) -> Result<(), PaymentsError> {
        let signature = signature.ok_or(SignatureError::Malformed)?;
        webhook::verify(
            self.webhook_secret.expose(),
            signature,
            body,
            self.clock.now(),
        )?;
        let stripe_event: StripeEvent =
            serde_json::from_slice(body).map_err(|_| PaymentsError::BadWebhook)?;
        let trigger = Trigger::Webhook {
            event_id: &stripe_event.id,
        };
        let provider_id = match stripe_event.news() {
            ProviderNews::Succeeded { provider_id }
            | ProviderNews::Failed { provider_id, .. }
            | ProviderNews::Refunded { provider_id } => provider_id,
            ProviderNews::Other => {
                self.store.record_webhook(&stripe_event.id).await?;
                return Ok(());
            }
        };
        let payment = match self.store.payment_by_provider(&provider_id).await? {
            Some(payment) => Some(payment),
            None => match stripe_event.payment_id() {
                Some(id) => self.store.payment(id).await?,
                None => None,
            },
        };
        let Some(payment) = payment else {
            tracing::warn!(%provider_id, "webhook for a payment BoxOffice does not know");
            self.store.record_webhook(&stripe_event.id).await?;
            return Ok(());
        };
        match stripe_event.news() {
            ProviderNews::Succeeded { provider_id } => {
                self.money_arrived(payment.id, Some(provider_id), trigger)
                    .await?;
            }
            ProviderNews::Failed {
                provider_id,
                message,
            } => {
                self.fail(payment.id, Some(provider_id), message, trigger)
                    .await?;
            }
            ProviderNews::Refunded { .. } => {
                self.refunded(payment.id, trigger).await?;
            }
            ProviderNews::Other => {}
        }
        Ok(())
    }

    /// Test processor: the payer finished 3-D Secure (or gave up).
    pub async fn authenticate(
        &self,
        user: Id,
        payment_id: Id,
        client_secret: &str,
        success: bool,
    ) -> Result<Payment, PaymentsError> {
        let payment = self
            .store
            .payment(payment_id)
            .await?
            .ok_or(PaymentsError::NotFound)?;
        if payment.user_id != user {
            return Err(PaymentsError::NotOwner);
        }
        if payment.status != PaymentStatus::RequiresAction {
            return Err(PaymentsError::Refused(
                "This payment does not need authentication".to_owned(),
            ));
        }
        let provider_id = payment.provider_id.as_deref().unwrap_or_default();
        let webhook = match self.gateway.finish_authentication(
            provider_id,
            client_secret,
            success,
            self.clock.now(),
        ) {
            Ok(webhook) => webhook,
            Err(AuthenticationError::NotSupported) => {
                return Err(PaymentsError::AuthenticationUnsupported);
            }
            Err(AuthenticationError::WrongSecret) => {
                return Err(PaymentsError::Refused(
                    "Client secret does not match".to_owned(),
                ));
            }
        };
        // The same path a provider's webhook takes.
        self.receive_webhook(&webhook.body, Some(&webhook.signature))
            .await?;
        self.store
            .payment(payment_id)
            .await?
            .ok_or(PaymentsError::NotFound)
    }

    /// The order reached a final state. Money already taken for an order that was
    /// cancelled is returned.
    pub async fn order_closed(&self, order_id: Id, state: OrderState) -> Result<(), PaymentsError> {
        if state != OrderState::Cancelled {
            return Ok(());
        }
        let Some(payment) = self.store.active_payment(order_id).await? else {
            return Ok(());
        };
        if payment.status != PaymentStatus::Succeeded {
            // Still processing or awaiting action: if money arrives, settling refunds it.
            return Ok(());
        }
        let outcome = self
            .store
            .update_payment(
                payment.id,
                Trigger::Request,
                Box::new(|p: &mut Payment, _| {
                    if p.status != PaymentStatus::Succeeded {
                        return Decision::Keep;
                    }
                    p.status = PaymentStatus::Refunding;
                    Decision::Save(vec![])
                }),
            )
            .await?;
        if let Modified::Saved(payment) = outcome {
            self.refund(payment).await?;
        }
        Ok(())
    }

    /// Money arrived for a payment: keep it (order completes) or return it.
    async fn money_arrived(
        &self,
        payment_id: Id,
        provider_id: Option<String>,
        trigger: Trigger<'_>,
    ) -> Result<Payment, PaymentsError> {
        let clock = Arc::clone(&self.clock);
        let outcome = self
            .store
            .update_payment(
                payment_id,
                trigger,
                Box::new(move |p: &mut Payment, order| {
                    if let Some(provider_id) = provider_id {
                        p.provider_id = Some(provider_id);
                    }
                    match settle(p, order) {
                        Settlement::AlreadyDone => Decision::Keep,
                        Settlement::Keep => {
                            p.status = PaymentStatus::Succeeded;
                            p.failure = None;
                            let created = PaymentCreated {
                                id: p.id,
                                order_id: p.order_id,
                                provider_id: p.provider_id.clone().unwrap_or_default(),
                            };
                            Decision::Save(vec![event(&clock, &created)])
                        }
                        Settlement::Refund => {
                            p.status = PaymentStatus::Refunding;
                            Decision::Save(vec![])
                        }
                    }
                }),
            )
            .await?;
        match outcome {
            Modified::Saved(payment) if payment.status == PaymentStatus::Refunding => {
                self.refund(payment).await
            }
            Modified::Saved(payment) | Modified::Unchanged(payment) => Ok(payment),
            Modified::Duplicate | Modified::Missing => self
                .store
                .payment(payment_id)
                .await?
                .ok_or(PaymentsError::NotFound),
        }
    }

    /// Tries again every refund that was started but not confirmed (the provider call
    /// failed, or the process stopped in between). The provider keys a refund by the
    /// payment id, so one that did go through is not made twice. Returns how many settled.
    pub async fn retry_refunds(&self, limit: u32) -> anyhow::Result<usize> {
        let mut settled = 0;
        for payment in self.store.refunding(limit).await? {
            let id = payment.id;
            match self.refund(payment).await {
                Ok(_) => settled += 1,
                Err(err) => {
                    tracing::warn!(payment = %id, error = %err, "refund failed again; will retry");
                }
            }
        }
        Ok(settled)
    }

    /// Returns a payment's money and announces it.
    async fn refund(&self, payment: Payment) -> Result<Payment, PaymentsError> {
        let provider_id = payment.provider_id.clone().unwrap_or_default();
        self.gateway.refund(&provider_id, payment.id).await?;
        tracing::info!(payment = %payment.id, order = %payment.order_id, "late payment refunded");
        self.refunded(payment.id, Trigger::Request).await
    }

    async fn refunded(
        &self,
        payment_id: Id,
        trigger: Trigger<'_>,
    ) -> Result<Payment, PaymentsError> {
        let clock = Arc::clone(&self.clock);
        let outcome = self
            .store
            .update_payment(
                payment_id,
                trigger,
                Box::new(move |p: &mut Payment, _| {
                    if p.status == PaymentStatus::Refunded {
                        return Decision::Keep;
                    }
                    p.status = PaymentStatus::Refunded;
                    let refunded = PaymentRefunded {
                        id: p.id,
                        order_id: p.order_id,
                        provider_id: p.provider_id.clone().unwrap_or_default(),
                    };
                    Decision::Save(vec![event(&clock, &refunded)])
                }),
            )
            .await?;
        self.settled(outcome, payment_id).await
    }

    async fn fail(
        &self,
        payment_id: Id,
        provider_id: Option<String>,
        message: String,
        trigger: Trigger<'_>,
    ) -> Result<Payment, PaymentsError> {
        let clock = Arc::clone(&self.clock);
        let outcome = self
            .store
            .update_payment(
                payment_id,
                trigger,
                Box::new(move |p: &mut Payment, _| {
                    if !matches!(
                        p.status,
                        PaymentStatus::Processing | PaymentStatus::RequiresAction
                    ) {
                        return Decision::Keep;
                    }
                    p.status = PaymentStatus::Failed;
                    p.provider_id = provider_id.or(p.provider_id.take());
                    p.client_secret = None;
                    let failed = PaymentFailed {
                        id: p.id,
                        order_id: p.order_id,
                        reason: message.clone(),
                    };
                    p.failure = Some(message);
                    Decision::Save(vec![event(&clock, &failed)])
                }),
            )
            .await?;
        self.settled(outcome, payment_id).await
    }

    async fn note_provider(
        &self,
        payment_id: Id,
        provider_id: String,
        client_secret: Option<String>,
    ) -> Result<Payment, PaymentsError> {
        let outcome = self
            .store
            .update_payment(
                payment_id,
                Trigger::Request,
                Box::new(move |p: &mut Payment, _| {
                    if p.status != PaymentStatus::Processing {
                        return Decision::Keep;
                    }
                    if client_secret.is_some() {
                        p.status = PaymentStatus::RequiresAction;
                    }
                    p.provider_id = Some(provider_id);
                    p.client_secret = client_secret;
                    Decision::Save(vec![])
                }),
            )
            .await?;
        self.settled(outcome, payment_id).await
    }

    async fn settled(&self, outcome: Modified, payment_id: Id) -> Result<Payment, PaymentsError> {
        match outcome {
            Modified::Saved(payment) | Modified::Unchanged(payment) => Ok(payment),
            Modified::Duplicate | Modified::Missing => self
                .store
                .payment(payment_id)
                .await?
                .ok_or(PaymentsError::NotFound),
        }
    }
}
