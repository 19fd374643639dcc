//! `Idempotency-Key` (CONTRACT.md §1): the same key from the same user with the same body
//! within 24 h gets the first answer again; with a different body, 400; while the first
//! request is still running, 409.
//!
//! * [`respond_once`] — the HTTP side, shared by every route that takes a key.
//! * [`IdempotencyKeys`] — where keys and first answers are kept, with [`sqlite`] and
//!   [`postgres`] implementations over an `idempotency_keys` table that each service's
//!   migrations create.

pub mod postgres;
pub mod sqlite;

use std::future::Future;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use boxoffice_common::Id;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::http::ApiError;

/// How long a key is remembered.
pub const KEY_LIFETIME: time::Duration = time::Duration::hours(24);
const HEADER: &str = "idempotency-key";

/// Where a key stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyState {
    /// First use: run the request and record its answer.
    Fresh,
    /// Used before with the same request: answer this again.
    Replay { status: u16, body: String },
    /// Its first request is still running.
    InProgress,
    /// Used before with a different request.
    Mismatch,
}

/// Persistence of keys and first answers, per user.
#[async_trait::async_trait]
pub trait IdempotencyKeys: Send + Sync + 'static {
    async fn claim_key(
        &self,
        user: Id,
        key: &str,
        request_hash: &str,
        now: OffsetDateTime,
    ) -> anyhow::Result<KeyState>;
    async fn finish_key(&self, user: Id, key: &str, status: u16, body: &str) -> anyhow::Result<()>;
    /// Forgets a key whose request ended without an answer worth replaying.
    async fn release_key(&self, user: Id, key: &str) -> anyhow::Result<()>;
}

/// Decides a key's state from its stored row.
pub(crate) fn key_state(
    stored_hash: &str,
    request_hash: &str,
    status: Option<i64>,
    body: Option<String>,
) -> KeyState {
    if stored_hash != request_hash {
        return KeyState::Mismatch;
    }
    match (status, body) {
        (Some(status), Some(body)) => KeyState::Replay {
            status: u16::try_from(status).unwrap_or(500),
            body,
        },
        _ => KeyState::InProgress,
    }
}

/// Marks a response (in its extensions) that a retry with the same key must not get again:
/// a refusal whose cause the client can remove — say, an order refused for want of a
/// waiting-room admission the buyer has since received. The key is released, as for a
/// 404.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotFinal;

/// A fingerprint of the parts of a request that must match for a replay.
pub fn request_hash(parts: &[&str]) -> String {
    hex::encode(Sha256::digest(parts.join("\n").as_bytes()))
}

/// Runs `run` at most once per (user, `Idempotency-Key`); without the header, just runs it.
///
/// 404 and 5xx answers are not remembered: a retry may succeed (an entity not known *yet*
/// to an eventually consistent replica, a failure of ours); nor are answers marked
/// [`NotFinal`].
pub async fn respond_once<F, Fut>(
    keys: &dyn IdempotencyKeys,
    user: Id,
    headers: &HeaderMap,
    request_hash: &str,
    now: OffsetDateTime,
    run: F,
) -> Result<Response, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Response>,
{
    let Some(key) = key_from(headers)? else {
        return Ok(run().await);
    };
    match keys.claim_key(user, &key, request_hash, now).await? {
        KeyState::Fresh => {}
        KeyState::Replay { status, body } => return Ok(stored_response(status, body)),
        KeyState::InProgress => {
            return Err(ApiError::Conflict(
                "A request with this Idempotency-Key is still being processed".to_owned(),
            ));
        }
        KeyState::Mismatch => {
            return Err(ApiError::bad_request(
                "Idempotency key reused with a different request",
            ));
        }
    }
    let response = run().await;
    let status = response.status();
    let final_answer = response.extensions().get::<NotFinal>().is_none();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("reading our own response: {e}")))?;
    let body = String::from_utf8_lossy(&bytes).into_owned();
    if status.is_server_error() || status == StatusCode::NOT_FOUND || !final_answer {
        keys.release_key(user, &key).await?;
    } else {
        keys.finish_key(user, &key, status.as_u16(), &body).await?;
    }
    Ok(stored_response(status.as_u16(), body))
}

fn key_from(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(HEADER) else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(key) if (1..=255).contains(&key.len()) => Ok(Some(key.to_owned())),
        _ => Err(ApiError::invalid(
            "Idempotency-Key",
            "Idempotency-Key must be 1 to 255 characters",
        )),
    }
}

fn stored_response(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}
