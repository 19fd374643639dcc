//! Liveness, readiness and metrics endpoints.
//!
//! `/healthz` answers as long as the process serves HTTP; `/readyz` also asks every
//! dependency (stores, bus) whether it is reachable, so an orchestrator routes traffic
//! only to instances that can do their job.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

use crate::telemetry;

/// Something `/readyz` must be able to reach.
#[async_trait::async_trait]
pub trait ReadinessProbe: Send + Sync + 'static {
    /// A short name for the report, e.g. `auth-db`.
    fn name(&self) -> &str;
    /// `Ok` when reachable; the error (with its causes) is shown in the readiness report.
    async fn check(&self) -> anyhow::Result<()>;
}

/// The probes of every service running in this process.
pub type Probes = Arc<Vec<Arc<dyn ReadinessProbe>>>;

/// How long one probe may take before it counts as failed.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Serialize)]
struct Report {
    status: &'static str,
    checks: BTreeMap<String, String>,
}

/// `/healthz`, `/readyz` and `/metrics`.
pub fn router(probes: Probes) -> Router {
    // Install the recorder now: counts recorded before installation would be lost.
    telemetry::metrics_handle();
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(probes)
}

async fn healthz() -> Response {
    axum::Json(serde_json::json!({ "status": "ok" })).into_response()
}

async fn readyz(State(probes): State<Probes>) -> Response {
    let (ready, checks) = check_all(&probes).await;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let report = Report {
        status: if ready { "ready" } else { "unavailable" },
        checks,
    };
    (status, axum::Json(report)).into_response()
}

/// Runs every probe; whether all passed (also kept in `boxoffice_ready`), and each outcome.
async fn check_all(probes: &Probes) -> (bool, BTreeMap<String, String>) {
    let mut checks = BTreeMap::new();
    let mut ready = true;
    for probe in probes.iter() {
        let outcome = match tokio::time::timeout(PROBE_TIMEOUT, probe.check()).await {
            Ok(Ok(())) => "ok".to_owned(),
            Ok(Err(reason)) => format!("{reason:#}"),
            Err(_) => "timed out".to_owned(),
        };
        ready &= outcome == "ok";
        checks.insert(probe.name().to_owned(), outcome);
    }
    metrics::gauge!(telemetry::names::READY).set(if ready { 1.0 } else { 0.0 });
    (ready, checks)
}

/// The Prometheus text; the readiness checks run first, so `boxoffice_ready` is current
/// at every scrape.
async fn metrics(State(probes): State<Probes>) -> Response {
    check_all(&probes).await;
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        telemetry::metrics_handle().render(),
    )
        .into_response()
}
