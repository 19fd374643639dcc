//! Who is asking. The browser's `session` cookie is the API's own (set by sign-up and
//! sign-in through the API and handed on unchanged); the web crate never reads the token,
//! it forwards it and asks the API who that is.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use serde_json::Value;

use crate::Web;
use crate::failure::Failure;

/// The signed-in user, as `GET /api/users/currentuser` describes them.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub email: String,
}

/// The browser's session (if any) and who it belongs to (if it is still valid).
#[derive(Debug, Clone, Default)]
pub struct Visitor {
    pub session: Option<String>,
    pub user: Option<User>,
}

impl Visitor {
    pub fn session(&self) -> Option<&str> {
        self.session.as_deref()
    }

    pub fn signed_in(&self) -> bool {
        self.user.is_some()
    }
}

/// The request's waiting-room admission cookies, as `name=value` pairs joined by `; `,
/// ready to forward to an order; `None` when there are none.
pub fn admission_cookies(headers: &HeaderMap) -> Option<String> {
    let pairs: Vec<&str> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .map(str::trim)
        .filter(|pair| {
            pair.split_once('=').is_some_and(|(name, value)| {
                name.starts_with("admission-")
                    && !value.is_empty()
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            })
        })
        .collect();
    (!pairs.is_empty()).then(|| pairs.join("; "))
}

/// The `session` cookie's value, if the request carries one.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == "session")
        .map(|(_, value)| value.to_owned())
        .filter(|value| !value.is_empty())
}

impl<S> FromRequestParts<S> for Visitor
where
    Web: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Failure> {
        let Some(session) = session_cookie(&parts.headers) else {
            return Ok(Self::default());
        };
        let user = current_user(&Web::from_ref(state), &session).await?;
        Ok(Self {
            session: Some(session),
            user,
        })
    }
}

/// Who `session` belongs to, as the API says; `None` when it is no longer valid.
pub async fn current_user(web: &Web, session: &str) -> Result<Option<User>, Failure> {
    let reply = web.api.get("/api/users/currentuser", Some(session)).await?;
    Ok(match &reply.body["currentUser"] {
        Value::Object(user) => Some(User {
            id: user["id"].as_str().unwrap_or_default().to_owned(),
            email: user["email"].as_str().unwrap_or_default().to_owned(),
        }),
        _ => None,
    })
}
