//! Stripe PaymentIntents over HTTPS.
//!
//! A PaymentIntent is created with `capture_method=manual`: `requires_capture` means the
//! amount is held (authorized), then captured (`/capture`) or voided (`/cancel`) once the
//! order decided. Bodies are form-encoded, amounts in minor units, every call carries an
//! `Idempotency-Key` derived from our payment id and the step (`charge-`, `capture-`,
//! `void-`, `refund-`), so a retried request never happens twice at Stripe,
//! and `metadata` names the order, user and payment so the Stripe dashboard can be read
//! without BoxOffice. The payer's browser gives either a PaymentMethod id (`pm_…`, what
//! Stripe.js produces) or a legacy card token (`tok_…`), which is wrapped in
//! `payment_method_data`. `STRIPE_API_BASE` points the gateway at a stand-in.

use std::time::Duration;

use anyhow::Context;
use boxoffice_common::Id;
use boxoffice_platform::Secret;
use serde_json::Value;

use super::{ChargeOutcome, ChargeRequest, PaymentGateway};

pub const DEFAULT_API_BASE: &str = "https://api.stripe.com";

#[derive(Debug, Clone)]
pub struct StripeGateway {
    client: reqwest::Client,
    base: String,
    key: Secret,
}

impl StripeGateway {
    pub fn new(key: Secret, base: Option<String>) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .context("building the Stripe HTTP client")?;
        Ok(Self {
            client,
            base: base
                .unwrap_or_else(|| DEFAULT_API_BASE.to_owned())
                .trim_end_matches('/')
                .to_owned(),
            key,
        })
    }

    async fn post(
        &self,
        path: &str,
        idempotency_key: &str,
        form: &[(String, String)],
    ) -> anyhow::Result<(u16, Value)> {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(self.key.expose())
            .header("Idempotency-Key", idempotency_key)
            .form(form)
            .send()
            .await
            .with_context(|| format!("calling Stripe {path}"))?;
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        Ok((status, body))
    }
}

/// Ending an authorization one way or the other.
#[derive(Debug, Clone, Copy)]
enum Step {
    Capture,
    Void,
}

impl Step {
    fn path(self, provider_id: &str) -> String {
        match self {
            Self::Capture => format!("/v1/payment_intents/{provider_id}/capture"),
            Self::Void => format!("/v1/payment_intents/{provider_id}/cancel"),
        }
    }

    fn key(self, payment_id: Id) -> String {
        match self {
            Self::Capture => format!("capture-{payment_id}"),
            Self::Void => format!("void-{payment_id}"),
        }
    }

    /// The PaymentIntent status this step ends in: an intent already there (the step was
    /// done before, e.g. by a retry whose answer was lost) counts as done.
    fn done(self) -> &'static str {
        match self {
            Self::Capture => "succeeded",
            Self::Void => "canceled",
        }
    }
}

impl StripeGateway {
    async fn finish(&self, provider_id: &str, payment_id: Id, step: Step) -> anyhow::Result<()> {
        let (status, body) = self
            .post(&step.path(provider_id), &step.key(payment_id), &[])
            .await?;
        if (200..300).contains(&status) || body["error"]["payment_intent"]["status"] == step.done()
        {
            return Ok(());
        }
        anyhow::bail!(
            "Stripe answered {status} to {}: {}",
            step.path(provider_id),
            body["error"]["message"].as_str().unwrap_or("no message")
        )
    }
}

/// Reads a PaymentIntent into our outcome.
fn outcome_of(intent: &Value) -> anyhow::Result<ChargeOutcome> {
    let provider_id = intent["id"]
        .as_str()
        .context("PaymentIntent without id")?
        .to_owned();
    Ok(match intent["status"].as_str() {
        Some("requires_capture") => ChargeOutcome::Authorized { provider_id },
        Some("succeeded") => ChargeOutcome::Succeeded { provider_id },
        Some("requires_action") => ChargeOutcome::RequiresAction {
            client_secret: intent["client_secret"]
                .as_str()
                .context("requires_action without client_secret")?
                .to_owned(),
            provider_id,
        },
        Some("requires_payment_method") => ChargeOutcome::Declined {
            message: intent["last_payment_error"]["message"]
                .as_str()
                .unwrap_or("Your card was declined.")
                .to_owned(),
            provider_id: Some(provider_id),
        },
        _ => ChargeOutcome::Processing { provider_id },
    })
}

#[async_trait::async_trait]
impl PaymentGateway for StripeGateway {
    fn name(&self) -> &'static str {
        "stripe"
    }

    async fn authorize(&self, request: &ChargeRequest<'_>) -> anyhow::Result<ChargeOutcome> {
        let mut form: Vec<(String, String)> = vec![
            ("amount".into(), request.amount.minor().to_string()),
            ("currency".into(), request.currency.to_owned()),
            ("capture_method".into(), "manual".into()),
            ("confirm".into(), "true".into()),
            ("metadata[order_id]".into(), request.order_id.to_string()),
            ("metadata[user_id]".into(), request.user_id.to_string()),
            (
                "metadata[payment_id]".into(),
                request.payment_id.to_string(),
            ),
        ];
        if request.token.starts_with("tok_") {
            form.push(("payment_method_data[type]".into(), "card".into()));
            form.push((
                "payment_method_data[card][token]".into(),
                request.token.to_owned(),
            ));
        } else {
            form.push(("payment_method".into(), request.token.to_owned()));
        }
        let (status, body) = self
            .post(
                "/v1/payment_intents",
                &format!("charge-{}", request.payment_id),
                &form,
            )
            .await?;
        match status {
            200..=299 => outcome_of(&body),
            // Card errors (402) and bad payment details (400) are the payer's to fix.
            400 | 402 => Ok(ChargeOutcome::Declined {
                provider_id: body["error"]["payment_intent"]["id"]
                    .as_str()
                    .map(str::to_owned),
                message: body["error"]["message"]
                    .as_str()
                    .unwrap_or("Your card was declined.")
                    .to_owned(),
            }),
            _ => anyhow::bail!("Stripe answered {status} creating a PaymentIntent"),
        }
    }

    async fn capture(&self, provider_id: &str, payment_id: Id) -> anyhow::Result<()> {
        self.finish(provider_id, payment_id, Step::Capture).await
    }

    async fn void(&self, provider_id: &str, payment_id: Id) -> anyhow::Result<()> {
        self.finish(provider_id, payment_id, Step::Void).await
    }

    async fn refund(&self, provider_id: &str, payment_id: Id) -> anyhow::Result<()> {
        let form = vec![
            ("payment_intent".to_owned(), provider_id.to_owned()),
            ("metadata[payment_id]".to_owned(), payment_id.to_string()),
        ];
        let (status, body) = self
            .post("/v1/refunds", &format!("refund-{payment_id}"), &form)
            .await?;
        anyhow::ensure!(
            (200..300).contains(&status),
            "Stripe answered {status} to a refund: {}",
            body["error"]["message"].as_str().unwrap_or("no message")
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payment_intents_map_to_outcomes() {
        let ok = serde_json::json!({"id": "pi_1", "status": "succeeded"});
        assert_eq!(
            outcome_of(&ok).expect("outcome"),
            ChargeOutcome::Succeeded {
                provider_id: "pi_1".into()
            }
        );
        let held = serde_json::json!({"id": "pi_0", "status": "requires_capture"});
        assert_eq!(
            outcome_of(&held).expect("outcome"),
            ChargeOutcome::Authorized {
                provider_id: "pi_0".into()
            }
        );
        let action = serde_json::json!({"id": "pi_2", "status": "requires_action", "client_secret": "pi_2_secret_x"});
        assert_eq!(
            outcome_of(&action).expect("outcome"),
            ChargeOutcome::RequiresAction {
                provider_id: "pi_2".into(),
                client_secret: "pi_2_secret_x".into()
            }
        );
        let declined = serde_json::json!({"id": "pi_3", "status": "requires_payment_method",
            "last_payment_error": {"message": "Your card has insufficient funds."}});
        assert_eq!(
            outcome_of(&declined).expect("outcome"),
            ChargeOutcome::Declined {
                provider_id: Some("pi_3".into()),
                message: "Your card has insufficient funds.".into()
            }
        );
    }
}
