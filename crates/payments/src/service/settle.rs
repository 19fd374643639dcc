//! The provider's word on a payment: webhooks (Stripe's, or the test processor's own
//! after 3-D Secure), each taking effect once.

use std::sync::Arc;

use boxoffice_common::{Id, PaymentId, UserId};
use boxoffice_platform::metrics;
use boxoffice_platform::telemetry::names::{WEBHOOK_LAG, WEBHOOKS};

use super::{PaymentsError, PaymentsService, announce, save_if};
use crate::domain::{Arrival, Payment, PaymentStatus};
use crate::gateway::test_processor::WrongSecret;
use crate::store::{Decision, Modified, PaymentKey, Trigger};
use crate::webhook::{self, ProviderNews, SignatureError, StripeEvent};

/// What the payer is told when the provider cancelled the authorization itself.
const AUTHORIZATION_CANCELLED: &str =
    "The payment's authorization was cancelled; please try again.";

impl PaymentsService {
    /// Verifies and applies a provider webhook. Each provider event id takes effect once.
    /// Counted by the news it brings and what came of it.
    pub async fn receive_webhook(
        &self,
        body: &[u8],
        signature: Option<&str>,
    ) -> Result<(), PaymentsError> {
        let mut kind = "unreadable";
        let received = self.apply_webhook(body, signature, &mut kind).await;
        let result = match &received {
            Ok(true) => "applied",
            Ok(false) => "ignored",
            Err(PaymentsError::BadSignature(_) | PaymentsError::BadWebhook) => "rejected",
            Err(_) => "error",
        };
        metrics::counter!(WEBHOOKS, "type" => kind, "result" => result).increment(1);
        received.map(|_| ())
    }

    /// [`Self::receive_webhook`]: `true` if it concerned a payment of ours, `false` if it
    /// was news BoxOffice does not act on; `kind` is set once the event could be read.
    async fn apply_webhook(
        &self,
        body: &[u8],
        signature: Option<&str>,
        kind: &mut &'static str,
    ) -> Result<bool, PaymentsError> {
        let signature = signature.ok_or(SignatureError::Malformed)?;
        webhook::verify(
            self.webhook_secret.expose(),
            signature,
            body,
            self.clock.now(),
        )?;
        let stripe_event: StripeEvent =
            serde_json::from_slice(body).map_err(|_| PaymentsError::BadWebhook)?;
        let news = stripe_event.news();
        *kind = news.label();
        if let Some(created) = stripe_event.created {
            let lag = self.clock.now().unix_timestamp() - created;
            metrics::histogram!(WEBHOOK_LAG).record(lag.max(0) as f64);
        }
        let Some(provider_id) = news.provider_id() else {
            self.store.record_webhook(&stripe_event.id).await?;
            return Ok(false);
        };
        let payment = match self
            .store
            .payment(PaymentKey::ProviderId(provider_id))
            .await?
        {
            Some(payment) => Some(payment),
            None => match stripe_event.payment_id() {
                Some(id) => self.store.payment(PaymentKey::Id(id)).await?,
                None => None,
            },
        };
        let Some(payment) = payment else {
            tracing::warn!(%provider_id, "webhook for a payment BoxOffice does not know");
            self.store.record_webhook(&stripe_event.id).await?;
            return Ok(false);
        };
        let trigger = Trigger::Webhook {
            event_id: &stripe_event.id,
        };
        match news {
            ProviderNews::Authorized { provider_id } => {
                self.authorized(payment.id, provider_id, trigger).await?;
            }
            ProviderNews::Canceled { provider_id } => {
                self.cancelled_by_provider(payment.id, provider_id, trigger)
                    .await?;
            }
            ProviderNews::Succeeded { provider_id } => {
                self.money_arrived(payment.id, provider_id, trigger).await?;
            }
            ProviderNews::Failed {
                provider_id,
                message,
            } => {
                self.fail(payment.id, Some(provider_id), message, trigger)
                    .await?;
            }
            ProviderNews::Refunded { provider_id } => {
                self.refunded(payment.id, Some(provider_id), trigger)
                    .await?;
            }
            ProviderNews::Other => {}
        }
        Ok(true)
    }

    /// Test processor: the payer finished 3-D Secure (or gave up). With any other
    /// provider the payer's browser does this, and the answer is `AuthenticationUnsupported`
    /// (after the same ownership and status checks).
    pub async fn authenticate(
        &self,
        user: UserId,
        payment_id: PaymentId,
        client_secret: &str,
        success: bool,
    ) -> Result<Payment, PaymentsError> {
        let payment = self.current(payment_id.get()).await?;
        payment.check_authentication_by(user)?;
        let Some(processor) = self.gateway.test_processor() else {
            return Err(PaymentsError::AuthenticationUnsupported);
        };
        let watch = self.decisions.watch(payment.id);
        let webhook = processor
            .finish_authentication(
                payment.charged_as()?,
                client_secret,
                success,
                self.clock.now(),
            )
            .map_err(|WrongSecret| {
                PaymentsError::Refused("Client secret does not match".to_owned())
            })?;
        // The same path a provider's webhook takes; an authorization then waits for the
        // order's decision, as paying does.
        self.receive_webhook(&webhook.body, Some(&webhook.signature))
            .await?;
        self.await_decision(payment.id, &watch).await
    }

    /// The provider cancelled a PaymentIntent: the void we asked for, confirmed — or an
    /// authorization it let lapse (or a payer abandoned) before the order decided, which
    /// fails the payment and gives the order back.
    async fn cancelled_by_provider(
        &self,
        payment_id: Id,
        provider_id: String,
        trigger: Trigger<'_>,
    ) -> Result<Payment, PaymentsError> {
        let clock = Arc::clone(&self.clock);
        let change = move |p: &mut Payment, _: Option<&_>| {
            if p.status == PaymentStatus::Voiding {
                return Ok(save_if(p.voided()));
            }
            if p.status == PaymentStatus::Capturing {
                tracing::error!(payment = %p.id, "the provider cancelled an authorization being captured");
            }
            Ok(announce(
                &*clock,
                p.fail(Some(provider_id), AUTHORIZATION_CANCELLED.to_owned()),
            ))
        };
        self.apply(payment_id, trigger, Box::new(change)).await
    }

    /// Money arrived for a payment: keep it (order completes) or return it.
    pub(super) async fn money_arrived(
        &self,
        payment_id: Id,
        provider_id: String,
        trigger: Trigger<'_>,
    ) -> Result<Payment, PaymentsError> {
        let clock = Arc::clone(&self.clock);
        let outcome = self
            .store
            .modify(
                payment_id,
                trigger,
                Box::new(move |p, order| {
                    Ok(match p.money_arrived(provider_id, order) {
                        Arrival::Kept(created) => announce(&*clock, Some(created)),
                        Arrival::Refund => Decision::Save(vec![]),
                        Arrival::AlreadyDone => Decision::Keep,
                    })
                }),
            )
            .await?;
        match outcome {
            Modified::Saved(payment) if payment.status == PaymentStatus::Refunding => {
                self.refund(payment).await
            }
            outcome => self.settled(outcome, payment_id).await,
        }
    }

    /// The payment failed: declined, authentication failed, or the provider unreachable.
    pub(super) async fn fail(
        &self,
        payment_id: Id,
        provider_id: Option<String>,
        message: String,
        trigger: Trigger<'_>,
    ) -> Result<Payment, PaymentsError> {
        let clock = Arc::clone(&self.clock);
        let change = move |p: &mut Payment, _: Option<&_>| {
            Ok(announce(&*clock, p.fail(provider_id, message)))
        };
        self.apply(payment_id, trigger, Box::new(change)).await
    }
}
