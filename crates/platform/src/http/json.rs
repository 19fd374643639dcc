//! A JSON body extractor that answers in the contract's error format.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::error::{ApiError, default_message};

/// Like `axum::Json`, but a missing content type is a 415, an oversized body a 413 and
/// unreadable JSON a 400 — each with a `{"errors":[…]}` body instead of axum's plain text.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(rejection_to_error(rejection)),
        }
    }
}

/// axum answers a well-formed body of the wrong shape with 422; the contract says 400
/// for every unreadable body.
fn rejection_to_error(rejection: JsonRejection) -> ApiError {
    match &rejection {
        JsonRejection::JsonDataError(err) => {
            ApiError::bad_request(format!("Invalid request body: {}", data_error_detail(err)))
        }
        JsonRejection::JsonSyntaxError(_) => {
            ApiError::bad_request("Malformed JSON in request body")
        }
        _ => {
            let status = rejection.status();
            let message = if status == StatusCode::BAD_REQUEST {
                "Could not read the request body"
            } else {
                default_message(status)
            };
            ApiError::Status {
                status,
                message: message.to_owned(),
            }
        }
    }
}

/// serde's explanation (e.g. "email: invalid type: integer, expected a string"), without
/// axum's prefix. It describes the client's own input and carries no server detail.
fn data_error_detail(err: &axum::extract::rejection::JsonDataError) -> String {
    let text = err.body_text();
    match text.split_once(": ") {
        Some((_, detail)) => detail.to_owned(),
        None => text,
    }
}
