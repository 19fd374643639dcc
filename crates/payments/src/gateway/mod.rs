//! Payment providers behind one trait, and the choice between them.
//!
//! * [`PaymentGateway`] — what every provider does: authorize (hold the amount on the
//!   card), capture or void that authorization once the order decided, refund.
//! * [`Gateway`] — the one chosen at start ([`configure`]); with the built-in test
//!   processor it can also finish 3-D Secure on the server, which a real provider leaves to
//!   the payer's browser.
//! * [`test_processor`] — the default: no network; honours Stripe's test tokens and
//!   finishes 3-D Secure through a signed webhook, like Stripe would.
//! * [`ledger`] — the test processor's records of each authorization, for it and tests.
//! * [`stripe`] — Stripe PaymentIntents over HTTPS.

pub mod ledger;
pub mod stripe;
pub mod test_processor;

use std::sync::Arc;

use boxoffice_common::{Id, Money};
use boxoffice_platform::Secret;

use self::stripe::StripeGateway;
use self::test_processor::TestProcessor;

/// What to authorize.
#[derive(Debug, Clone)]
pub struct ChargeRequest<'a> {
    /// Also the provider's idempotency key: retrying an authorization never holds the
    /// amount twice, and a capture or void keyed by it happens once.
    pub payment_id: Id,
    pub order_id: Id,
    pub user_id: Id,
    pub amount: Money,
    pub currency: &'a str,
    /// A card token (`tok_visa`, …) from the payer's browser.
    pub token: &'a str,
}

/// The provider's answer to an authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeOutcome {
    /// The amount is held on the card until it is captured or voided.
    Authorized { provider_id: String },
    /// The money was taken at once (a provider that does not hold): settled as money
    /// that arrived.
    Succeeded { provider_id: String },
    /// The provider will tell us later, by webhook.
    Processing { provider_id: String },
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

#[async_trait::async_trait]
pub trait PaymentGateway: Send + Sync + 'static {
    /// Short name for logs and `/readyz`.
    fn name(&self) -> &'static str;
    /// Holds the amount on the payer's card (Stripe: `capture_method=manual`).
    async fn authorize(&self, request: &ChargeRequest<'_>) -> anyhow::Result<ChargeOutcome>;
    /// Takes the held money. Keyed by `payment_id`: a repeat, or a capture of money
    /// already captured, is a success that takes nothing more.
    async fn capture(&self, provider_id: &str, payment_id: Id) -> anyhow::Result<()>;
    /// Releases the held money. Keyed by `payment_id`: a repeat is a success.
    async fn void(&self, provider_id: &str, payment_id: Id) -> anyhow::Result<()>;
    /// Returns a payment's money. `payment_id` keys the refund idempotently.
    async fn refund(&self, provider_id: &str, payment_id: Id) -> anyhow::Result<()>;
}

impl std::fmt::Debug for dyn PaymentGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The provider payments go to, chosen once at start.
#[derive(Debug, Clone)]
pub enum Gateway {
    /// The built-in test processor. It alone can finish 3-D Secure on the server
    /// (`POST /api/payments/{id}/authenticate`), since it made up the challenge.
    TestProcessor(TestProcessor),
    /// A real provider (Stripe) or a stand-in for one: the payer authenticates in the
    /// browser, and the authenticate route answers 404.
    External(Arc<dyn PaymentGateway>),
}

/// Stripe when `stripe_key` is set (at `stripe_api_base`, or Stripe's own API); otherwise
/// the test processor, signing its webhooks with `webhook_secret`.
pub fn configure(
    stripe_key: Option<Secret>,
    stripe_api_base: Option<String>,
    webhook_secret: Secret,
) -> anyhow::Result<Gateway> {
    Ok(match stripe_key {
        Some(key) => Gateway::External(Arc::new(StripeGateway::new(key, stripe_api_base)?)),
        None => Gateway::TestProcessor(TestProcessor::new(webhook_secret)),
    })
}

impl Gateway {
    /// Who charges and refunds.
    pub fn provider(&self) -> &dyn PaymentGateway {
        match self {
            Self::TestProcessor(processor) => processor,
            Self::External(gateway) => gateway.as_ref(),
        }
    }

    /// The test processor, when it is the provider.
    pub fn test_processor(&self) -> Option<&TestProcessor> {
        match self {
            Self::TestProcessor(processor) => Some(processor),
            Self::External(_) => None,
        }
    }
}
