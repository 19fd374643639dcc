//! Load shedding: beyond a fixed number of requests in the handlers at once, a request is
//! answered `503 Service Unavailable` with `Retry-After` at once, instead of queueing.
//!
//! A server that takes every request in lets each wait longer as more arrive: past its
//! capacity every caller times out, the sale stalls for everyone, and the backlog outlives
//! the burst. Refusing the excess in microseconds keeps the latency of the accepted
//! requests where it is at capacity, and tells the refused when to come back.
//!
//! A request holds its place only until its handler has produced the response head: a
//! streamed body (the queue's live feed, SSE) runs on without one. Health, readiness and
//! metrics are never shed — an orchestrator must not take a busy instance for a dead one.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use tokio::sync::Semaphore;

use super::error::message_response;
use crate::telemetry::names::REQUESTS_SHED;

/// What a shed request is told.
pub const BUSY: &str = "The server is busy; try again in a moment";
/// Seconds a shed request is asked to wait (`Retry-After`).
pub const RETRY_AFTER_SECS: u64 = 1;
/// Paths that are always served.
const NEVER_SHED: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// Lets at most `max_in_flight` requests into `router`'s handlers at once (see the module
/// documentation); 0 lets every request in.
pub fn apply(router: Router, max_in_flight: usize) -> Router {
    if max_in_flight == 0 {
        return router;
    }
    crate::telemetry::metrics_handle();
    metrics::counter!(REQUESTS_SHED).absolute(0);
    let permits = Arc::new(Semaphore::new(max_in_flight));
    router.layer(middleware::from_fn_with_state(permits, shed))
}

async fn shed(State(permits): State<Arc<Semaphore>>, request: Request, next: Next) -> Response {
    if NEVER_SHED.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let Ok(_permit) = permits.try_acquire() else {
        metrics::counter!(REQUESTS_SHED).increment(1);
        let mut response = message_response(StatusCode::SERVICE_UNAVAILABLE, BUSY);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        return response;
    };
    // The permit is released here, when the head is ready; a streamed body goes on alone.
    next.run(request).await
}

#[cfg(test)]
mod tests;
