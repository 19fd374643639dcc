//! The middleware stack every service runs behind.
//!
//! From the outside in: a request id is assigned (or kept from the caller, when well
//! formed) and echoed; a tracing span names the request and carries the id, which also
//! stays current for the handler so that the events it publishes carry it on; bodies without the contract's error shape get one;
//! panics become a bare 500; metrics are recorded per matched route; oversized bodies are
//! refused; session keys are made available to the extractors; cross-site state changes
//! are refused. Unknown routes answer 404 `"Not found"`.

use std::time::Instant;

use axum::Extension;
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use super::csrf;
use super::error::{ApiError, default_message, message_response};
use super::session::SessionKeys;
use crate::telemetry::names::service_of_route;
use crate::telemetry::{HTTP_REQUEST_DURATION, HTTP_REQUESTS_TOTAL, request_id};

/// Largest request body accepted, as the contract says: 64 KiB.
pub const BODY_LIMIT_BYTES: usize = 64 * 1024;

/// Wraps a fully routed application in the standard stack and gives it the 404 fallback.
pub fn apply(router: Router, sessions: SessionKeys) -> Router {
    router
        .fallback(not_found)
        .layer(middleware::from_fn(csrf::reject_cross_site))
        .layer(Extension(sessions))
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(middleware::from_fn(reject_declared_oversize))
        .layer(middleware::from_fn(record_metrics))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::map_response(ensure_error_body))
        .layer(middleware::from_fn(keep_request_id_current))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(middleware::map_request(drop_malformed_request_id))
}

/// A caller's `X-Request-Id` that is not [well formed](request_id::is_well_formed) is
/// dropped, so a fresh one is assigned: ids end up in logs and events.
async fn drop_malformed_request_id(mut request: Request) -> Request {
    let malformed = request
        .headers()
        .get(REQUEST_ID)
        .is_some_and(|v| !v.to_str().is_ok_and(request_id::is_well_formed));
    if malformed {
        request.headers_mut().remove(REQUEST_ID);
    }
    request
}

/// Makes the request's id current while the handler runs: events it publishes carry it.
async fn keep_request_id_current(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    request_id::scope(id.as_deref(), next.run(request)).await
}

const REQUEST_ID: &str = "x-request-id";

/// The span of one request. Only the path is recorded: query strings and headers may
/// carry tokens, and nothing secret belongs in a log. The client's address is the one
/// [`super::security`] settled on (trusting forwarded headers only from trusted proxies).
fn request_span(request: &Request) -> tracing::Span {
    let request_id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    let client = request
        .extensions()
        .get::<super::security::ClientIp>()
        .map_or_else(|| "-".to_owned(), |ip| ip.0.to_string());
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %request_id,
        client_ip = %client,
    )
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

/// A body whose `Content-Length` already says it is too large is refused before anything
/// reads it, even on routes that ignore their body. Streamed bodies without a length are
/// caught by `DefaultBodyLimit` when a handler reads them.
async fn reject_declared_oversize(request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > BODY_LIMIT_BYTES) {
        let status = StatusCode::PAYLOAD_TOO_LARGE;
        return message_response(status, default_message(status));
    }
    next.run(request).await
}

async fn record_metrics(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let service = service_of_route(&route);
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!(HTTP_REQUESTS_TOTAL, "service" => service, "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!(HTTP_REQUEST_DURATION, "service" => service, "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    ApiError::Internal(anyhow::anyhow!("handler panicked")).into_response()
}

/// Error responses produced outside our handlers (axum's 405, a layer's 413, …) arrive
/// with plain-text or empty bodies; give them the contract's shape.
async fn ensure_error_body(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&response) {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    // Keep headers such as `Allow` and `Retry-After`; replace only the body and its type.
    parts.headers.remove(header::CONTENT_LENGTH);
    let replacement = message_response(status, default_message(status));
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, replacement.into_body())
}

fn is_json(response: &Response<Body>) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v: &HeaderValue| v.as_bytes().starts_with(b"application/json"))
}
