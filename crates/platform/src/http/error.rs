//! The contract's error body and the error type every handler returns.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// `{"errors":[{"message": "...", "field": "..."}]}` — the only error shape clients see.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub errors: Vec<ErrorItem>,
}

/// One problem with a request. `field` names the offending input for validation errors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ErrorItem {
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ErrorItem {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            field: Some(field.to_owned()),
        }
    }
}

/// Message of every 401, whether anonymous or not the owner: the contract does not let
/// clients tell the two apart.
pub const NOT_AUTHORIZED: &str = "Not authorized";
/// Message of every 404, including malformed ids and unknown routes.
pub const NOT_FOUND: &str = "Not found";
/// Message of every 500. Details go to the log, never to the client.
pub const SOMETHING_WENT_WRONG: &str = "Something went wrong";

/// Everything a handler can answer besides success.
///
/// `Internal` keeps its cause so the log shows the whole chain, while the client sees
/// only [`SOMETHING_WENT_WRONG`].
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 with one item per bad field.
    #[error("validation failed")]
    Validation(Vec<ErrorItem>),
    /// 400 for a business rule or an unreadable request; the message is shown as is.
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("not authorized")]
    Unauthorized,
    #[error("not found")]
    NotFound,
    /// 409: an idempotency key whose first request is still running.
    #[error("conflict: {0}")]
    Conflict(String),
    /// 429 with the number of seconds to wait.
    #[error("too many requests")]
    TooManyRequests {
        message: String,
        retry_after_secs: u64,
    },
    /// Any other status with a plain message (413, 415, …), for rejections.
    #[error("{message}")]
    Status { status: StatusCode, message: String },
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// A single-field validation error.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![ErrorItem::field(field, message)])
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest(message.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation(_) | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Status { status, .. } => *status,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Renders a contract error body with the given status.
pub fn error_response(status: StatusCode, errors: Vec<ErrorItem>) -> Response {
    (status, axum::Json(ErrorBody { errors })).into_response()
}

/// Renders a single-message contract error body.
pub fn message_response(status: StatusCode, message: &str) -> Response {
    error_response(
        status,
        vec![ErrorItem {
            message: message.to_owned(),
            field: None,
        }],
    )
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match self {
            Self::Validation(items) => error_response(status, items),
            Self::BadRequest(message) | Self::Conflict(message) | Self::Status { message, .. } => {
                message_response(status, &message)
            }
            Self::Unauthorized => message_response(status, NOT_AUTHORIZED),
            Self::NotFound => message_response(status, NOT_FOUND),
            Self::TooManyRequests {
                message,
                retry_after_secs,
            } => {
                let mut response = message_response(status, &message);
                response.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(retry_after_secs.max(1)),
                );
                response
            }
            Self::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "request failed");
                message_response(status, SOMETHING_WENT_WRONG)
            }
        }
    }
}

/// The message used when a response without a contract body has to be given one.
pub fn default_message(status: StatusCode) -> &'static str {
    match status {
        StatusCode::UNAUTHORIZED => NOT_AUTHORIZED,
        StatusCode::NOT_FOUND => NOT_FOUND,
        StatusCode::METHOD_NOT_ALLOWED => "Method not allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "Request body is too large (limit 64 KiB)",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "Content-Type must be application/json",
        StatusCode::REQUEST_TIMEOUT => "Request timed out",
        StatusCode::TOO_MANY_REQUESTS => "Too many requests",
        s if s.is_server_error() => SOMETHING_WENT_WRONG,
        _ => "Bad request",
    }
}
