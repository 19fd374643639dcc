//! The built-in test processor: Stripe's test tokens, no network.
//!
//! * `tok_visa` (and other `tok_…` cards) → authorized, held until captured or voided
//! * `tok_chargeDeclined` → declined with Stripe's message
//! * `tok_threeDSecure2Required` → requires action; the client secret is an HMAC of the
//!   payment's provider id, so it can be checked later without keeping state. Finishing
//!   authentication produces a webhook signed with the webhook secret, processed by the
//!   same code that processes Stripe's: `payment_intent.amount_capturable_updated`, as
//!   Stripe sends for an authorization that 3-D Secure let through.
//!
//! What it did with each authorization is kept in the process's [`ledger`](super::ledger),
//! which also makes a repeated capture or void a no-op and a capture after a void fail.

use boxoffice_common::Id;
use boxoffice_platform::Secret;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use super::{ChargeOutcome, ChargeRequest, PaymentGateway, ledger};
use crate::webhook;

pub const DECLINED: &str = "Your card was declined.";
pub const AUTHENTICATION_FAILED: &str = "We are unable to authenticate your payment method. Please choose a different payment method and try again.";
pub const INVALID_TOKEN: &str = "Your card number is incorrect.";

/// A webhook as the provider would deliver it: raw body and `Stripe-Signature` header.
#[derive(Debug, Clone)]
pub struct SignedWebhook {
    pub body: Vec<u8>,
    pub signature: String,
}

/// The client secret given does not belong to the charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("client secret does not match")]
pub struct WrongSecret;

#[derive(Debug, Clone)]
pub struct TestProcessor {
    webhook_secret: Secret,
}

impl TestProcessor {
    /// `webhook_secret` signs the webhooks it sends itself; the webhook route verifies
    /// them with the same secret.
    pub fn new(webhook_secret: Secret) -> Self {
        Self { webhook_secret }
    }

    fn client_secret(&self, provider_id: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.webhook_secret.expose().as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(provider_id.as_bytes());
        let digest = hex::encode(mac.finalize().into_bytes());
        format!("{provider_id}_secret_{}", &digest[..24])
    }

    /// The payer finished (or failed) 3-D Secure for the charge `provider_id`: the signed
    /// webhook that settles it, as Stripe would send it, or `WrongSecret` if
    /// `client_secret` is not the one handed out for that charge.
    pub fn finish_authentication(
        &self,
        provider_id: &str,
        client_secret: &str,
        success: bool,
        now: OffsetDateTime,
    ) -> Result<SignedWebhook, WrongSecret> {
        let expected = self.client_secret(provider_id);
        if !bool::from(expected.as_bytes().ct_eq(client_secret.as_bytes())) {
            return Err(WrongSecret);
        }
        let event = if success {
            ledger::authorize(provider_id);
            serde_json::json!({
                "id": format!("evt_test_{}", uuid::Uuid::now_v7().simple()),
                "type": "payment_intent.amount_capturable_updated",
                "created": now.unix_timestamp(),
                "data": {"object": {"id": provider_id, "status": "requires_capture"}},
            })
        } else {
            serde_json::json!({
                "id": format!("evt_test_{}", uuid::Uuid::now_v7().simple()),
                "type": "payment_intent.payment_failed",
                "created": now.unix_timestamp(),
                "data": {"object": {
                    "id": provider_id,
                    "status": "requires_payment_method",
                    "last_payment_error": {"message": AUTHENTICATION_FAILED},
                }},
            })
        };
        let body = event.to_string().into_bytes();
        let signature = webhook::sign(self.webhook_secret.expose(), now, &body);
        Ok(SignedWebhook { body, signature })
    }
}

#[async_trait::async_trait]
impl PaymentGateway for TestProcessor {
    fn name(&self) -> &'static str {
        "test-processor"
    }

    async fn authorize(&self, request: &ChargeRequest<'_>) -> anyhow::Result<ChargeOutcome> {
        let provider_id = format!("pi_test_{}", request.payment_id.simple());
        Ok(match request.token {
            "tok_chargeDeclined" | "tok_chargeDeclinedInsufficientFunds" => {
                ChargeOutcome::Declined {
                    provider_id: Some(provider_id),
                    message: DECLINED.to_owned(),
                }
            }
            "tok_threeDSecure2Required" | "tok_threeDSecureRequired" => {
                ledger::open(&provider_id, request.order_id, false);
                ChargeOutcome::RequiresAction {
                    client_secret: self.client_secret(&provider_id),
                    provider_id,
                }
            }
            token if token.starts_with("tok_") => {
                ledger::open(&provider_id, request.order_id, true);
                ChargeOutcome::Authorized { provider_id }
            }
            _ => ChargeOutcome::Declined {
                provider_id: None,
                message: INVALID_TOKEN.to_owned(),
            },
        })
    }

    async fn capture(&self, provider_id: &str, _payment_id: Id) -> anyhow::Result<()> {
        Ok(ledger::capture(provider_id)?)
    }

    async fn void(&self, provider_id: &str, _payment_id: Id) -> anyhow::Result<()> {
        Ok(ledger::void(provider_id)?)
    }

    async fn refund(&self, provider_id: &str, _payment_id: Id) -> anyhow::Result<()> {
        ledger::refund(provider_id);
        Ok(())
    }
}
