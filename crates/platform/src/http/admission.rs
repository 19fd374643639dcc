//! Waiting-room admissions (CONTRACT §12): what the queue service hands a buyer whose turn
//! in an event's room has come, and what the orders service checks — locally, with no call
//! to the queue — before it takes an order for that event's tickets.
//!
//! An admission is an HS256 token signed with its own key (`ROOM_ADMISSION_KEY`, never the
//! session key, so that neither kind of token can pass for the other), with `aud` `orders`,
//! `typ` `admission`, `sub` the buyer, the event, a sequence number and an expiry. Only
//! HS256 is accepted; a token for another buyer or another event is no admission.

use std::sync::Arc;
use std::time::Duration;

use boxoffice_common::Id;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::Secret;

/// Who an admission is for (`aud`).
pub const ADMISSION_AUDIENCE: &str = "orders";
/// The type every admission declares (`typ`).
pub const ADMISSION_TYPE: &str = "admission";
/// The contract's refusal of an order without a valid admission (400).
pub const ADMISSION_REQUIRED: &str = "Waiting room admission required";

/// A verified admission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    pub user: Id,
    pub event: Id,
    /// The admission's number in its room (the fairness log's order of admissions).
    pub seq: u64,
    pub expires_at: OffsetDateTime,
}

#[derive(Debug, Serialize, Deserialize)]
struct AdmissionClaims {
    sub: Id,
    event: Id,
    seq: u64,
    iat: i64,
    exp: i64,
    aud: String,
    typ: String,
}

/// Signs and verifies admissions. Cheap to clone.
#[derive(Clone)]
pub struct AdmissionKeys {
    inner: Arc<Keys>,
}

struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for AdmissionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdmissionKeys(…)")
    }
}

impl AdmissionKeys {
    pub fn new(key: &Secret) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // Only HS256: `alg: none` and algorithm swaps fail verification.
        validation.algorithms = vec![Algorithm::HS256];
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "iat", "aud", "sub"]);
        validation.set_audience(&[ADMISSION_AUDIENCE]);
        Self {
            inner: Arc::new(Keys {
                encoding: EncodingKey::from_secret(key.expose().as_bytes()),
                decoding: DecodingKey::from_secret(key.expose().as_bytes()),
                validation,
            }),
        }
    }

    /// Signs admission `seq` of `user` to `event`, valid for `ttl` from `now`.
    pub fn issue(
        &self,
        user: Id,
        event: Id,
        seq: u64,
        now: OffsetDateTime,
        ttl: Duration,
    ) -> anyhow::Result<(String, Admission)> {
        let iat = now.unix_timestamp();
        let exp = iat + i64::try_from(ttl.as_secs())?;
        let claims = AdmissionClaims {
            sub: user,
            event,
            seq,
            iat,
            exp,
            aud: ADMISSION_AUDIENCE.to_owned(),
            typ: ADMISSION_TYPE.to_owned(),
        };
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.inner.encoding,
        )?;
        let admission = Admission {
            user,
            event,
            seq,
            expires_at: OffsetDateTime::from_unix_timestamp(exp)?,
        };
        Ok((token, admission))
    }

    /// The admission `token` grants `user` to `event`, if it is one: signed with this key,
    /// unexpired, of the right audience and type, for this buyer and this event. `None`
    /// for anything else — forged, expired, borrowed, or for another event.
    pub fn verify(&self, token: &str, user: Id, event: Id) -> Option<Admission> {
        let claims = jsonwebtoken::decode::<AdmissionClaims>(
            token,
            &self.inner.decoding,
            &self.inner.validation,
        )
        .ok()?
        .claims;
        if claims.typ != ADMISSION_TYPE || claims.sub != user || claims.event != event {
            return None;
        }
        Some(Admission {
            user,
            event,
            seq: claims.seq,
            expires_at: OffsetDateTime::from_unix_timestamp(claims.exp).ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use boxoffice_common::new_id;

    use super::*;
    use crate::http::SessionKeys;

    const KEY: &str = "an-admission-key-that-is-long-enough-0123456789";

    fn keys() -> AdmissionKeys {
        AdmissionKeys::new(&Secret::new(KEY))
    }

    fn sign(claims: &serde_json::Value, algorithm: Algorithm, key: &str) -> String {
        jsonwebtoken::encode(
            &Header::new(algorithm),
            claims,
            &EncodingKey::from_secret(key.as_bytes()),
        )
        .expect("sign")
    }

    #[test]
    fn an_admission_verifies_for_its_buyer_and_event_only() {
        let (user, event) = (new_id(), new_id());
        let now = OffsetDateTime::now_utc();
        let (token, admission) = keys()
            .issue(user, event, 7, now, Duration::from_secs(120))
            .expect("sign");
        assert_eq!(keys().verify(&token, user, event), Some(admission.clone()));
        assert_eq!(admission.seq, 7);
        assert_eq!(keys().verify(&token, new_id(), event), None, "borrowed");
        assert_eq!(keys().verify(&token, user, new_id()), None, "another event");
    }

    #[test]
    fn expired_forged_and_foreign_tokens_are_no_admission() {
        let (user, event) = (new_id(), new_id());
        let now = OffsetDateTime::now_utc();
        let (expired, _) = keys()
            .issue(
                user,
                event,
                1,
                now - Duration::from_secs(600),
                Duration::from_secs(120),
            )
            .expect("sign");
        let claims = |aud: &str, typ: &str| {
            serde_json::json!({
                "sub": user, "event": event, "seq": 1, "iat": now.unix_timestamp(),
                "exp": now.unix_timestamp() + 60, "aud": aud, "typ": typ,
            })
        };
        let (session, _) = SessionKeys::new(&Secret::new(KEY), Duration::from_secs(60), false)
            .issue(user, "a@b.co", now)
            .expect("session");
        let (good, _) = keys()
            .issue(user, event, 1, now, Duration::from_secs(60))
            .expect("sign");
        let mut tampered: Vec<&str> = good.split('.').collect();
        let forged_payload = sign(
            &claims(ADMISSION_AUDIENCE, ADMISSION_TYPE),
            Algorithm::HS256,
            "x",
        );
        tampered[1] = forged_payload.split('.').nth(1).expect("payload");
        let none_alg = format!(
            "{}.{}.",
            "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0",
            good.split('.').nth(1).expect("payload")
        );
        for (name, token) in [
            ("expired", expired),
            (
                "another key",
                sign(
                    &claims(ADMISSION_AUDIENCE, ADMISSION_TYPE),
                    Algorithm::HS256,
                    "another-key",
                ),
            ),
            (
                "HS512",
                sign(
                    &claims(ADMISSION_AUDIENCE, ADMISSION_TYPE),
                    Algorithm::HS512,
                    KEY,
                ),
            ),
            (
                "another audience",
                sign(&claims("boxoffice", ADMISSION_TYPE), Algorithm::HS256, KEY),
            ),
            (
                "another type",
                sign(
                    &claims(ADMISSION_AUDIENCE, "session"),
                    Algorithm::HS256,
                    KEY,
                ),
            ),
            ("a session token, even signed with the same key", session),
            ("a tampered payload", tampered.join(".")),
            ("alg none", none_alg),
            ("not a token", "garbage".to_owned()),
        ] {
            assert_eq!(keys().verify(&token, user, event), None, "{name}");
        }
    }
}
