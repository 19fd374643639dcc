//! Payment providers behind one trait.
//!
//! * [`test_processor`] — the default: no network; honours Stripe's test tokens and
//!   finishes 3-D Secure through a signed webhook, like Stripe would.
//! * [`stripe`] — Stripe PaymentIntents over HTTPS.

pub mod stripe;
pub mod test_processor;

use boxoffice_common::{Id, Money};
use time::OffsetDateTime;

/// What to charge.
#[derive(Debug, Clone)]
pub struct ChargeRequest<'a> {
    /// Also the provider's idempotency key: retrying a charge never charges twice.
    pub payment_id: Id,
    pub order_id: Id,
    pub user_id: Id,
    pub amount: Money,
    pub currency: &'a str,
    /// A card token (`tok_visa`, …) from the payer's browser.
    pub token: &'a str,
}

/// The provider's answer to a charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeOutcome {
    Succeeded {
        provider_id: String,
    },
    /// The provider will tell us later, by webhook.
    Processing {
        provider_id: String,
    },
    /// The payer must authenticate (3-D Secure) with the client secret.
    RequiresAction {
        provider_id: String,
        client_secret: String,
    },
    /// Refused, with a message to show the payer.
    Declined {
        provider_id: Option<String>,
        message: String,
    },
}

/// Why finishing authentication was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthenticationError {
    #[error("this provider authenticates in the payer's browser")]
    NotSupported,
    #[error("client secret does not match")]
    WrongSecret,
}

/// A webhook as the provider would deliver it: raw body and `Stripe-Signature` header.
#[derive(Debug, Clone)]
pub struct SignedWebhook {
    pub body: Vec<u8>,
    pub signature: String,
}

#[async_trait::async_trait]
pub trait PaymentGateway: Send + Sync + 'static {
    /// Short name for logs and `/readyz`.
    fn name(&self) -> &'static str;
    async fn charge(&self, request: &ChargeRequest<'_>) -> anyhow::Result<ChargeOutcome>;
    /// Returns a payment's money. `payment_id` keys the refund idempotently.
    async fn refund(&self, provider_id: &str, payment_id: Id) -> anyhow::Result<()>;
    /// Test processor only: the payer finished (or failed) 3-D Secure; returns the signed
    /// webhook that settles the payment.
    fn finish_authentication(
        &self,
        provider_id: &str,
        client_secret: &str,
        success: bool,
        now: OffsetDateTime,
    ) -> Result<SignedWebhook, AuthenticationError>;
}

impl std::fmt::Debug for dyn PaymentGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
