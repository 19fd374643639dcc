//! The web UI beside the API: pages at `/`, the API (with health, metrics and the OpenAPI
//! document) where it always was. In the embedded mode the pages call the API in process,
//! through the same router and middleware an HTTP client would meet.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use boxoffice_platform::http::security::SecurityPolicy;
use boxoffice_web::{Api, StripeBrowser, WebConfig};
use serde_json::json;
use tower::ServiceExt;

use crate::cli::Settings;
use crate::openapi;

fn config(settings: &Settings) -> WebConfig {
    WebConfig {
        currency: settings.currency.clone(),
        test_payments: settings.stripe_key.is_none(),
        stripe: settings
            .stripe_key
            .as_ref()
            .and(settings.stripe_publishable_key.as_ref())
            .map(|key| StripeBrowser {
                publishable_key: key.clone(),
                js_url: settings.stripe_js_url.clone(),
            }),
    }
}

/// The `Content-Security-Policy` of everything the process serves. The pages load only
/// their own scripts, styles and images from `/static` (no inline script anywhere; inline
/// `style` attributes only). In Stripe mode, Stripe.js comes from `STRIPE_JS_URL`'s origin,
/// its frames from there and from Stripe's `hooks.` host, and it talks to Stripe's `api.`
/// host — the same origin as the script when the script is not served from a `js.` host (a
/// Stripe stand-in). Nothing may frame the pages.
pub fn content_security_policy(settings: &Settings) -> String {
    let stripe = settings
        .stripe_key
        .as_ref()
        .and_then(|_| stripe_origins(&settings.stripe_js_url));
    let (script, frame, connect) = match &stripe {
        Some(stripe) => (
            format!("'self' {}", stripe.js),
            format!("{} {}", stripe.js, stripe.hooks),
            format!("'self' {}", stripe.api),
        ),
        None => (
            "'self'".to_owned(),
            "'none'".to_owned(),
            "'self'".to_owned(),
        ),
    };
    format!(
        "default-src 'self'; script-src {script}; style-src 'self'; \
         style-src-attr 'unsafe-inline'; img-src 'self' data:; font-src 'self'; \
         connect-src {connect}; frame-src {frame}; frame-ancestors 'none'; \
         base-uri 'none'; form-action 'self'; object-src 'none'"
    )
}

/// The origins Stripe.js needs, derived from where it is loaded.
struct StripeOrigins {
    js: String,
    api: String,
    hooks: String,
}

fn stripe_origins(js_url: &str) -> Option<StripeOrigins> {
    let (scheme, rest) = js_url.split_once("://")?;
    let host = rest
        .split(['/', '?', '#'])
        .next()
        .filter(|h| !h.is_empty())?;
    let js = format!("{scheme}://{host}");
    let (api, hooks) = match host.strip_prefix("js.") {
        Some(domain) => (
            format!("{scheme}://api.{domain}"),
            format!("{scheme}://hooks.{domain}"),
        ),
        None => (js.clone(), js.clone()),
    };
    Some(StripeOrigins { js, api, hooks })
}

/// The response headers of this process (`security::apply`): its content security policy
/// and the proxies it trusts.
pub fn security_policy(settings: &Settings) -> anyhow::Result<SecurityPolicy> {
    SecurityPolicy::new(
        &content_security_policy(settings),
        settings.trusted_proxies.clone(),
    )
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

#[cfg(test)]
mod tests {
    use boxoffice_platform::Secret;

    use super::*;

    #[test]
    fn the_policy_allows_stripe_only_in_stripe_mode() {
        let mut settings = Settings::for_data_dir("unused");
        let plain = content_security_policy(&settings);
        assert!(plain.contains("script-src 'self';"), "{plain}");
        assert!(plain.contains("frame-ancestors 'none'"), "{plain}");
        assert!(!plain.contains("stripe"), "{plain}");

        settings.stripe_key = Some(Secret::new("sk_test_x"));
        let stripe = content_security_policy(&settings);
        assert!(
            stripe.contains("script-src 'self' https://js.stripe.com;"),
            "{stripe}"
        );
        assert!(
            stripe.contains("frame-src https://js.stripe.com https://hooks.stripe.com;"),
            "{stripe}"
        );
        assert!(
            stripe.contains("connect-src 'self' https://api.stripe.com;"),
            "{stripe}"
        );

        settings.stripe_js_url = "http://127.0.0.1:8420/js.stripe.com/v3/".to_owned();
        let stand_in = content_security_policy(&settings);
        assert!(
            stand_in.contains("connect-src 'self' http://127.0.0.1:8420;"),
            "{stand_in}"
        );
    }
}
