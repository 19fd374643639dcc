//! The web UI beside the API: pages at `/`, the API (with health, metrics and the OpenAPI
//! document) where it always was. In the embedded mode the pages call the API in process,
//! through the same router and middleware an HTTP client would meet.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use boxoffice_web::{Api, WebConfig};
use serde_json::json;
use tower::ServiceExt;

use crate::cli::Settings;
use crate::openapi;

fn config(settings: &Settings) -> WebConfig {
    WebConfig {
        currency: settings.currency.clone(),
        test_payments: settings.stripe_key.is_none(),
    }
}

/// `serve web`: the pages, calling the API over HTTP at `api_url` (the ingress), with the
/// process's own `/healthz` (up) and `/readyz` (the API answers through the ingress).
pub fn pages_over_http(api_url: &str, settings: &Settings) -> anyhow::Result<Router> {
    let api = Api::over_http(api_url)?;
    let pages = boxoffice_web::router(api.clone(), config(settings));
    Ok(Router::new()
        .route(
            "/healthz",
            get(|| async { Json(json!({ "status": "ok" })) }),
        )
        .route(
            "/readyz",
            get(move || {
                let api = api.clone();
                async move {
                    match api.get("/api/users/currentuser", None).await {
                        Ok(reply) if reply.is_success() => {
                            (StatusCode::OK, Json(json!({ "status": "ok" })))
                        }
                        _ => (
                            StatusCode::SERVICE_UNAVAILABLE,
                            Json(json!({ "status": "unavailable", "checks": { "api": "down" } })),
                        ),
                    }
                }
            }),
        )
        .merge(pages))
}

/// `api` — the application's API behind its middleware stack — with the web UI in front:
/// the API's own paths go to it, every other path is a page (or the HTML 404).
pub fn with_pages(api: Router, settings: &Settings) -> Router {
    let pages = boxoffice_web::router(Api::in_process(api.clone()), config(settings));
    // Dispatched by path before any routing, so each router matches the request as if it
    // were alone: mounting the API under a wildcard route would hand its handlers the
    // wildcard's path parameter besides their own.
    Router::new().fallback_service(tower::service_fn(move |request: Request| {
        let target = if is_api_path(request.uri().path()) {
            api.clone()
        } else {
            pages.clone()
        };
        target.oneshot(request)
    }))
}

/// The paths the API answers: its routes, the OpenAPI document, health and metrics.
fn is_api_path(path: &str) -> bool {
    path == "/api"
        || path.starts_with("/api/")
        || path == openapi::OPENAPI_PATH
        || matches!(path, "/healthz" | "/readyz" | "/metrics")
}
