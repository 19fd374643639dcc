//! Paying for an order: the payment is saved before the provider is called, so an
//! answer that never comes (or comes by webhook first) always finds it. The provider only
//! authorizes; the request then waits, bounded, for the order's decision and the capture
//! or void that follows (`decide`), and answers with what it finds.

use boxoffice_common::{Id, OrderId, UserId};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::metrics;
use boxoffice_platform::telemetry::names::PAYMENTS;

use super::{PaymentsError, PaymentsService, SOURCE, save_if};
use crate::domain::{Payment, refuse_second_payment};
use crate::gateway::{ChargeOutcome, ChargeRequest};
use crate::store::{PaymentKey, Trigger};

/// What the payer is told when the provider cannot be reached.
const PROVIDER_UNAVAILABLE: &str = "The payment provider is unavailable; please try again.";

impl PaymentsService {
    /// `payer` pays for `order_id` with `token`. At most one payment per order is active
    /// at a time (a unique index), so concurrent attempts charge at most once. Answers
    /// the payment once captured (`succeeded`), waiting for the payer's browser
    /// (`requires_action`), or still undecided when the wait ran out (`processing`); a
    /// decline or a void is a refusal with the message for the payer.
    pub async fn pay(
        &self,
        payer: UserId,
        order_id: OrderId,
        token: &str,
    ) -> Result<Payment, PaymentsError> {
        let order = self
            .store
            .order(order_id.get())
            .await?
            .ok_or(PaymentsError::NotFound)?;
        let (payment, pending) = Payment::start(&order, payer, &self.currency, self.clock.now())?;
        let pending = Envelope::new(SOURCE, self.clock.now(), &pending);
        if !self.store.insert_payment(&payment, &[pending]).await? {
            let active = self
                .store
                .payment(PaymentKey::ActiveForOrder(order.id))
                .await?;
            return Err(refuse_second_payment(active.map(|p| p.status)).into());
        }
        metrics::counter!(PAYMENTS, "outcome" => "started").increment(1);

        let request = ChargeRequest {
            payment_id: payment.id,
            order_id: payment.order_id,
            user_id: payment.user_id,
            amount: payment.amount,
            currency: &payment.currency,
            token,
        };
        // Watch before the authorization is saved, so its decision cannot slip past.
        let watch = self.decisions.watch(payment.id);
        let outcome = match self.gateway.provider().authorize(&request).await {
            Ok(outcome) => outcome,
            Err(err) => {
                // Whether the provider charged is unknown. Give the order back; if the
                // money did arrive, its webhook finds a failed payment and refunds it.
                tracing::error!(payment = %payment.id, error = format!("{err:#}"), "payment provider call failed");
                self.fail(
                    payment.id,
                    None,
                    PROVIDER_UNAVAILABLE.to_owned(),
                    Trigger::Request,
                )
                .await?;
                return Err(err.into());
            }
        };
        match outcome {
            ChargeOutcome::Authorized { provider_id } => {
                self.authorized(payment.id, provider_id, Trigger::Request)
                    .await?;
                let decided = self.await_decision(payment.id, &watch).await?;
                match decided.refusal() {
                    Some(message) => Err(PaymentsError::Refused(message.to_owned())),
                    None => Ok(decided),
                }
            }
            ChargeOutcome::Succeeded { provider_id } => {
                self.money_arrived(payment.id, provider_id, Trigger::Request)
                    .await
            }
            ChargeOutcome::Processing { provider_id } => {
                self.provider_answered(payment.id, provider_id, None).await
            }
            ChargeOutcome::RequiresAction {
                provider_id,
                client_secret,
            } => {
                self.provider_answered(payment.id, provider_id, Some(client_secret))
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

    async fn provider_answered(
        &self,
        payment_id: Id,
        provider_id: String,
        client_secret: Option<String>,
    ) -> Result<Payment, PaymentsError> {
        let change = move |p: &mut Payment, _: Option<&_>| {
            Ok(save_if(p.provider_answered(provider_id, client_secret)))
        };
        self.apply(payment_id, Trigger::Request, Box::new(change))
            .await
    }
}
