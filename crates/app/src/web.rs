//! The web UI beside the API: pages at `/`, the API (with health, metrics and the OpenAPI
//! document) where it always was. In the embedded mode the pages call the API in process,
//! through the same router and middleware an HTTP client would meet.

use axum::body::Body;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use boxoffice_web::{Api, WebConfig};
use serde_json::json;

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
    // A router cannot be mounted at a path as a service (axum refuses), but its
    // `into_service` can.
    let to_api = || api.clone().into_service::<Body>();
    Router::new()
        .route_service("/api", to_api())
        .route_service("/api/{*rest}", to_api())
        .route_service(openapi::OPENAPI_PATH, to_api())
        .route_service("/healthz", to_api())
        .route_service("/readyz", to_api())
        .route_service("/metrics", to_api())
        .merge(pages)
}
