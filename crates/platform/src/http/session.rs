//! Sessions: signed tokens, the session cookie, and the extractors that read them.
//!
//! A session is an HS256 JWT with the claims `id`, `email`, `iat`, `exp`, `sid` (the
//! session's own id, a UUIDv7 minted at sign-in), `aud` (`boxoffice`) and `typ`
//! (`session`). Every service verifies it locally with the shared key, so no request waits
//! on the auth service: the signature (HS256 only — `alg: none` and other algorithms are
//! refused), the expiry, the audience and the type, and that the session has not been
//! ended by a sign-out ([`super::revocation`]). The token travels either in the `session`
//! cookie (browsers) or in an `Authorization: Bearer` header (API clients); both are
//! accepted everywhere.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use boxoffice_common::{Id, UserId};

use super::error::ApiError;
use super::revocation::Revocations;
use crate::Secret;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "session";

/// The audience every session token names (`aud`): tokens signed for anything else are
/// not sessions.
pub const SESSION_AUDIENCE: &str = "boxoffice";
/// The type every session token declares (`typ` claim).
pub const SESSION_TYPE: &str = "session";

/// Default session lifetime: seven days.
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// What a session token asserts about its bearer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Claims {
    /// The user's id.
    // Parsed once here, so that no handler re-parses it.
    #[schema(value_type = String)]
    pub id: Id,
    /// The user's email, lower-cased.
    pub email: String,
    /// Issued at, seconds since the Unix epoch.
    pub iat: i64,
    /// Expires at, seconds since the Unix epoch.
    pub exp: i64,
    /// The session's id (the token's `sid`): what signing out ends. Not part of
    /// `currentUser`.
    #[serde(skip)]
    pub sid: Id,
}

/// A session token's payload as signed: the [`Claims`] with the session id, audience and
/// type.
#[derive(Debug, Serialize, Deserialize)]
struct TokenClaims {
    id: Id,
    email: String,
    iat: i64,
    exp: i64,
    sid: Id,
    aud: String,
    typ: String,
}

/// The keys and rules for issuing and checking session tokens. Cheap to clone.
#[derive(Clone)]
pub struct SessionKeys {
    inner: Arc<KeysInner>,
}

struct KeysInner {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
    /// Mark cookies `Secure` even when the request did not say it came over HTTPS —
    /// for deployments whose TLS terminates somewhere that does not set the header.
    always_secure: bool,
    /// Sessions ended by a sign-out, checked by [`SessionKeys::verify`].
    revocations: Revocations,
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionKeys")
            .field("ttl", &self.inner.ttl)
            .field("always_secure", &self.inner.always_secure)
            .finish_non_exhaustive()
    }
}

impl SessionKeys {
    pub fn new(key: &Secret, ttl: Duration, always_secure: bool) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // Only HS256 is accepted: `alg: none` and algorithm swaps fail verification.
        validation.algorithms = vec![Algorithm::HS256];
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "iat", "aud"]);
        validation.set_audience(&[SESSION_AUDIENCE]);
        Self {
            inner: Arc::new(KeysInner {
                encoding: EncodingKey::from_secret(key.expose().as_bytes()),
                decoding: DecodingKey::from_secret(key.expose().as_bytes()),
                validation,
                ttl,
                always_secure,
                revocations: Revocations::new(),
            }),
        }
    }

    /// The sessions ended by sign-outs, as this process knows them.
    pub fn revocations(&self) -> &Revocations {
        &self.inner.revocations
    }

    /// How long an issued session lasts.
    pub fn ttl(&self) -> Duration {
        self.inner.ttl
    }

    /// Signs a new session for a user.
    pub fn issue(
        &self,
        id: Id,
        email: &str,
        now: OffsetDateTime,
    ) -> anyhow::Result<(String, Claims)> {
        let iat = now.unix_timestamp();
        let claims = Claims {
            id,
            email: email.to_owned(),
            iat,
            exp: iat + self.inner.ttl.as_secs() as i64,
            sid: boxoffice_common::new_id(),
        };
        let signed = TokenClaims {
            id: claims.id,
            email: claims.email.clone(),
            iat: claims.iat,
            exp: claims.exp,
            sid: claims.sid,
            aud: SESSION_AUDIENCE.to_owned(),
            typ: SESSION_TYPE.to_owned(),
        };
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &signed,
            &self.inner.encoding,
        )?;
        Ok((token, claims))
    }

    /// The claims of a valid, unexpired session token whose session has not been ended;
    /// `None` for anything else.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        let signed = jsonwebtoken::decode::<TokenClaims>(
            token,
            &self.inner.decoding,
            &self.inner.validation,
        )
        .ok()?
        .claims;
        if signed.typ != SESSION_TYPE || self.inner.revocations.is_revoked(signed.id, signed.sid) {
            return None;
        }
        Some(Claims {
            id: signed.id,
            email: signed.email,
            iat: signed.iat,
            exp: signed.exp,
            sid: signed.sid,
        })
    }

    /// The `Set-Cookie` value that starts a session.
    pub fn session_cookie(&self, token: &str, request_headers: &HeaderMap) -> String {
        let secure = if self.is_secure(request_headers) {
            "; Secure"
        } else {
            ""
        };
        format!(
            "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Lax; Path=/; Max-Age={}{secure}",
            self.inner.ttl.as_secs()
        )
    }

    /// The `Set-Cookie` value of another HttpOnly, `SameSite=Lax` cookie of this site (a
    /// waiting-room admission), `Secure` on the same terms as the session's.
    pub fn cookie(
        &self,
        name: &str,
        value: &str,
        max_age: Duration,
        request_headers: &HeaderMap,
    ) -> String {
        let secure = if self.is_secure(request_headers) {
            "; Secure"
        } else {
            ""
        };
        format!(
            "{name}={value}; HttpOnly; SameSite=Lax; Path=/; Max-Age={}{secure}",
            max_age.as_secs()
        )
    }

    /// The `Set-Cookie` value that ends a session.
    pub fn clearing_cookie(&self, request_headers: &HeaderMap) -> String {
        let secure = if self.is_secure(request_headers) {
            "; Secure"
        } else {
            ""
        };
        format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0{secure}")
    }

    fn is_secure(&self, headers: &HeaderMap) -> bool {
        self.inner.always_secure
            || headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
    }
}

/// The session token a request carries: the bearer header first, then the cookie.
pub fn token_from_headers(headers: &HeaderMap) -> Option<&str> {
    bearer_token(headers).or_else(|| session_cookie_value(headers))
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The value of the `session` cookie, if the request has a non-empty one.
pub fn session_cookie_value(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty())
}

fn keys_from_parts(parts: &Parts) -> Result<&SessionKeys, ApiError> {
    parts.extensions.get::<SessionKeys>().ok_or_else(|| {
        ApiError::Internal(anyhow::anyhow!(
            "SessionKeys extension missing: the router was built without the standard stack"
        ))
    })
}

/// The signed-in user, or `None` for anonymous requests and invalid or expired tokens.
#[derive(Debug, Clone)]
pub struct MaybeUser(pub Option<Claims>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let keys = keys_from_parts(parts)?;
        Ok(Self(
            token_from_headers(&parts.headers).and_then(|t| keys.verify(t)),
        ))
    }
}

/// The signed-in user; anything else is answered 401 `"Not authorized"`.
///
/// Handlers take this first so that authentication is checked before the body is read.
#[derive(Debug, Clone)]
pub struct AuthUser(pub Claims);

impl AuthUser {
    /// The signed-in user's id.
    pub fn id(&self) -> UserId {
        UserId(self.0.id)
    }
}

impl MaybeUser {
    /// The signed-in user's id, if anyone is signed in.
    pub fn id(&self) -> Option<UserId> {
        self.0.as_ref().map(|claims| UserId(claims.id))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match MaybeUser::from_request_parts(parts, state).await? {
            MaybeUser(Some(claims)) => Ok(Self(claims)),
            MaybeUser(None) => Err(ApiError::Unauthorized),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> SessionKeys {
        SessionKeys::new(
            &Secret::new("a-test-key-that-is-long-enough"),
            DEFAULT_SESSION_TTL,
            false,
        )
    }

    #[test]
    fn issued_tokens_verify_and_carry_expiry() {
        let now = OffsetDateTime::now_utc();
        let (token, claims) = keys()
            .issue(boxoffice_common::new_id(), "a@b.co", now)
            .expect("sign");
        assert_eq!(
            claims.exp - claims.iat,
            DEFAULT_SESSION_TTL.as_secs() as i64
        );
        assert_eq!(keys().verify(&token), Some(claims));
    }

    #[test]
    fn expired_tokens_and_other_keys_are_rejected() {
        let long_ago = OffsetDateTime::now_utc() - time::Duration::days(30);
        let (expired, _) = keys()
            .issue(boxoffice_common::new_id(), "a@b.co", long_ago)
            .expect("sign");
        assert_eq!(keys().verify(&expired), None);

        let other = SessionKeys::new(
            &Secret::new("another-key-entirely-0000"),
            DEFAULT_SESSION_TTL,
            false,
        );
        let (foreign, _) = other
            .issue(
                boxoffice_common::new_id(),
                "a@b.co",
                OffsetDateTime::now_utc(),
            )
            .expect("sign");
        assert_eq!(keys().verify(&foreign), None);
    }

    fn sign(claims: &serde_json::Value, algorithm: Algorithm) -> String {
        jsonwebtoken::encode(
            &Header::new(algorithm),
            claims,
            &EncodingKey::from_secret(b"a-test-key-that-is-long-enough"),
        )
        .expect("sign")
    }

    #[test]
    fn only_session_tokens_for_this_audience_are_accepted() {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let claims = |aud: &str, typ: &str| {
            serde_json::json!({
                "id": boxoffice_common::new_id(), "email": "a@b.co", "iat": now,
                "exp": now + 60, "sid": boxoffice_common::new_id(), "aud": aud, "typ": typ,
            })
        };
        let good = sign(&claims(SESSION_AUDIENCE, SESSION_TYPE), Algorithm::HS256);
        assert!(keys().verify(&good).is_some());
        for (name, token) in [
            (
                "other audience",
                sign(&claims("orders", SESSION_TYPE), Algorithm::HS256),
            ),
            (
                "other type",
                sign(&claims(SESSION_AUDIENCE, "admission"), Algorithm::HS256),
            ),
            (
                "HS512",
                sign(&claims(SESSION_AUDIENCE, SESSION_TYPE), Algorithm::HS512),
            ),
        ] {
            assert_eq!(keys().verify(&token), None, "{name}");
        }
        let mut without_sid = claims(SESSION_AUDIENCE, SESSION_TYPE);
        without_sid.as_object_mut().expect("object").remove("sid");
        assert_eq!(keys().verify(&sign(&without_sid, Algorithm::HS256)), None);
    }

    #[test]
    fn revoked_sessions_no_longer_verify() {
        let keys = keys();
        let now = OffsetDateTime::now_utc();
        let (token, claims) = keys
            .issue(boxoffice_common::new_id(), "a@b.co", now)
            .expect("sign");
        let (other, _) = keys
            .issue(boxoffice_common::new_id(), "c@d.co", now)
            .expect("sign");
        keys.revocations()
            .revoke_session(claims.sid, now + DEFAULT_SESSION_TTL);
        assert_eq!(keys.verify(&token), None);
        assert!(keys.verify(&other).is_some());
    }

    #[test]
    fn tokens_are_read_from_bearer_then_cookie() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            "theme=dark; session=abc".parse().expect("header"),
        );
        assert_eq!(token_from_headers(&headers), Some("abc"));
        headers.insert(header::AUTHORIZATION, "Bearer xyz".parse().expect("header"));
        assert_eq!(token_from_headers(&headers), Some("xyz"));
    }
}
