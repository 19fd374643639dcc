//! Stripe-style webhook signatures and events.
//!
//! `Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`. The
//! signature covers the exact bytes received — re-serialised JSON never matches — and is
//! compared in constant time. Signatures older or newer than five minutes are refused so a
//! captured request cannot be replayed later.

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use time::OffsetDateTime;

/// How far a signature's timestamp may be from now.
pub const TOLERANCE_SECONDS: i64 = 300;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing or malformed Stripe-Signature header")]
    Malformed,
    #[error("signature timestamp outside the tolerance")]
    Stale,
    #[error("signature does not match")]
    Mismatch,
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header value signing `body` at `at`.
pub fn sign(secret: &str, at: OffsetDateTime, body: &[u8]) -> String {
    let timestamp = at.unix_timestamp();
    let signature = hex::encode(mac(secret, timestamp, body).finalize().into_bytes());
    format!("t={timestamp},v1={signature}")
}

/// Checks `header` against `body`. Any one of several `v1` signatures may match (Stripe
/// sends more than one while a secret is being rolled).
pub fn verify(
    secret: &str,
    header: &str,
    body: &[u8],
    now: OffsetDateTime,
) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.extend(hex::decode(value).ok()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now.unix_timestamp() - timestamp).abs() > TOLERANCE_SECONDS {
        return Err(SignatureError::Stale);
    }
    let expected = mac(secret, timestamp, body);
    // `verify_slice` compares in constant time.
    if signatures
        .iter()
        .any(|candidate| expected.clone().verify_slice(candidate).is_ok())
    {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The parts of a Stripe event BoxOffice acts on.
#[derive(Debug, Clone, Deserialize)]
pub struct StripeEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// When the provider created the event (Unix seconds), for the webhook lag.
    #[serde(default)]
    pub created: Option<i64>,
    pub data: StripeEventData,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StripeEventData {
    pub object: serde_json::Value,
}

/// What a webhook event means for a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderNews {
    /// The PaymentIntent holds the amount (`requires_capture`): 3-D Secure let an
    /// authorization through.
    Authorized { provider_id: String },
    /// The PaymentIntent was cancelled: our void, confirmed — or an authorization the
    /// provider let lapse before BoxOffice captured it.
    Canceled { provider_id: String },
    /// The PaymentIntent succeeded.
    Succeeded { provider_id: String },
    /// The PaymentIntent failed, with the provider's message.
    Failed {
        provider_id: String,
        message: String,
    },
    /// The charge of the PaymentIntent was refunded.
    Refunded { provider_id: String },
    /// Nothing BoxOffice acts on.
    Other,
}

impl ProviderNews {
    /// The kind of news, for the `type` label of the webhook counter.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Authorized { .. } => "authorized",
            Self::Canceled { .. } => "canceled",
            Self::Succeeded { .. } => "succeeded",
            Self::Failed { .. } => "failed",
            Self::Refunded { .. } => "refunded",
            Self::Other => "other",
        }
    }

    /// The provider's id of the payment the news is about; `None` for [`Self::Other`].
    pub fn provider_id(&self) -> Option<&str> {
        match self {
            Self::Authorized { provider_id }
            | Self::Canceled { provider_id }
            | Self::Succeeded { provider_id }
            | Self::Failed { provider_id, .. }
            | Self::Refunded { provider_id } => Some(provider_id),
            Self::Other => None,
        }
    }
}

impl StripeEvent {
    /// Our payment id, from the PaymentIntent's metadata, when the provider echoes it.
    /// Lets a webhook that overtakes the charge's own response still find its payment.
    pub fn payment_id(&self) -> Option<uuid::Uuid> {
        self.data.object["metadata"]["payment_id"]
            .as_str()
            .and_then(|id| id.parse().ok())
    }

    pub fn news(&self) -> ProviderNews {
        let object = &self.data.object;
        let text = |value: &serde_json::Value| value.as_str().map(str::to_owned);
        match self.kind.as_str() {
            // Stripe announces an authorization with `amount_capturable_updated`; some
            // stand-ins (localstripe) send `succeeded` for an intent still `requires_capture`.
            // Either way the money is only held: it is not ours until captured.
            "payment_intent.amount_capturable_updated" | "payment_intent.succeeded"
                if object["status"] == "requires_capture" =>
            {
                match text(&object["id"]) {
                    Some(provider_id) => ProviderNews::Authorized { provider_id },
                    None => ProviderNews::Other,
                }
            }
            "payment_intent.canceled" => match text(&object["id"]) {
                Some(provider_id) => ProviderNews::Canceled { provider_id },
                None => ProviderNews::Other,
            },
            "payment_intent.succeeded" => match text(&object["id"]) {
                Some(provider_id) => ProviderNews::Succeeded { provider_id },
                None => ProviderNews::Other,
            },
            "payment_intent.payment_failed" => match text(&object["id"]) {
                Some(provider_id) => ProviderNews::Failed {
                    provider_id,
                    message: text(&object["last_payment_error"]["message"])
                        .unwrap_or_else(|| "Your payment could not be completed.".to_owned()),
                },
                None => ProviderNews::Other,
            },
            "charge.refunded" => match text(&object["payment_intent"]) {
                Some(provider_id) => ProviderNews::Refunded { provider_id },
                None => ProviderNews::Other,
            },
            _ => ProviderNews::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test";

    #[test]
    fn a_signature_verifies_only_its_own_body_and_secret() {
        let now = OffsetDateTime::now_utc();
        let body = br#"{"id":"evt_1"}"#;
        let header = sign(SECRET, now, body);
        assert_eq!(verify(SECRET, &header, body, now), Ok(()));
        assert_eq!(
            verify("whsec_other", &header, body, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(SECRET, &header, br#"{"id":"evt_2"}"#, now),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn stale_and_malformed_headers_are_refused() {
        let now = OffsetDateTime::now_utc();
        let body = b"{}";
        let old = sign(SECRET, now - time::Duration::seconds(301), body);
        assert_eq!(verify(SECRET, &old, body, now), Err(SignatureError::Stale));
        let recent = sign(SECRET, now - time::Duration::seconds(299), body);
        assert_eq!(verify(SECRET, &recent, body, now), Ok(()));
        for header in ["", "t=1", "v1=abcd", "garbage", "t=x,v1=zz"] {
            assert_eq!(
                verify(SECRET, header, body, now),
                Err(SignatureError::Malformed),
                "{header}"
            );
        }
    }

    #[test]
    fn any_of_several_signatures_may_match() {
        let now = OffsetDateTime::now_utc();
        let body = b"{}";
        let good = sign(SECRET, now, body);
        let header = format!("{good},v1={}", "00".repeat(32));
        assert_eq!(verify(SECRET, &header, body, now), Ok(()));
    }

    #[test]
    fn a_held_intent_is_an_authorization_whatever_the_event_type() {
        for kind in [
            "payment_intent.amount_capturable_updated",
            "payment_intent.succeeded",
        ] {
            let event: StripeEvent = serde_json::from_value(serde_json::json!({
                "id": "evt_1", "type": kind,
                "data": {"object": {"id": "pi_1", "status": "requires_capture"}}
            }))
            .expect("event");
            assert_eq!(
                event.news(),
                ProviderNews::Authorized {
                    provider_id: "pi_1".into()
                },
                "{kind}"
            );
        }
    }

    #[test]
    fn events_are_read_into_news() {
        let event: StripeEvent = serde_json::from_value(serde_json::json!({
            "id": "evt_1", "type": "payment_intent.payment_failed",
            "data": {"object": {"id": "pi_1", "last_payment_error": {"message": "Your card was declined."}}}
        }))
        .expect("event");
        assert_eq!(
            event.news(),
            ProviderNews::Failed {
                provider_id: "pi_1".into(),
                message: "Your card was declined.".into()
            }
        );
    }
}
