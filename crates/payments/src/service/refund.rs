//! Returning money: for an order cancelled after it was paid, and for money that arrived
//! too late. A refund is marked `refunding` before the provider is asked, so one the
//! provider did not confirm is found and asked again (see `crate::resumer`).

use std::sync::Arc;

use boxoffice_common::{Id, OrderId};

use super::{PaymentsError, PaymentsService, announce, save_if};
use crate::domain::{OrderState, Payment, PaymentStatus};
use crate::store::{Modified, PaymentKey, Trigger};

impl PaymentsService {
    /// The order reached a final state. Money already taken for an order that was
    /// cancelled is returned.
    pub async fn order_closed(
        &self,
        order_id: OrderId,
        state: OrderState,
    ) -> Result<(), PaymentsError> {
        if state != OrderState::Cancelled {
            return Ok(());
        }
        let active = self
            .store
            .payment(PaymentKey::ActiveForOrder(order_id.get()))
            .await?;
        let Some(payment) = active else {
            return Ok(());
        };
        if payment.status != PaymentStatus::Succeeded {
            // Still processing or awaiting action: if money arrives, settling refunds it.
            return Ok(());
        }
        let outcome = self
            .store
            .modify(
                payment.id,
                Trigger::Request,
                Box::new(|p, _| Ok(save_if(p.start_refund()))),
            )
            .await?;
        match outcome {
            Modified::Saved(payment) => {
                self.refund(payment).await?;
            }
            Modified::Refused(refusal) => return Err(refusal.into()),
            Modified::Unchanged(_) | Modified::Duplicate | Modified::Missing => {}
        }
        Ok(())
    }

    /// Returns a payment's money and announces it.
    pub(super) async fn refund(&self, payment: Payment) -> Result<Payment, PaymentsError> {
        self.gateway
            .provider()
            .refund(payment.charged_as()?, payment.id)
            .await?;
        tracing::info!(payment = %payment.id, order = %payment.order_id, "late payment refunded");
        self.refunded(payment.id, None, Trigger::Request).await
    }

    /// The money is back with the payer; `provider_id` is the provider's word on which
    /// charge, when it told us.
    pub(super) async fn refunded(
        &self,
        payment_id: Id,
        provider_id: Option<String>,
        trigger: Trigger<'_>,
    ) -> Result<Payment, PaymentsError> {
        let clock = Arc::clone(&self.clock);
        let change =
            move |p: &mut Payment, _: Option<&_>| Ok(announce(&*clock, p.refunded(provider_id)?));
        self.apply(payment_id, trigger, Box::new(change)).await
    }
}
