//! The web UI: server-rendered pages for buyers and sellers (UI.md), over the public API.
//!
//! * [`router`] — every page, the static assets and the fallback, for the composition
//!   root to serve at `/` beside the API under `/api`.
//! * [`api`] — the one typed client of the public API (in process when embedded, HTTP
//!   through the ingress when distributed), forwarding the browser's session.
//! * [`visitor`] — who is asking: the session cookie and the API's `currentuser`.
//! * [`chrome`] — what every page's layout needs (title, navigation, signed-in state).
//! * [`failure`] — error pages (404, 429, 500, API down) inside the normal layout, with
//!   the right status.
//! * [`forms`] — the CSRF defence of HTML forms (`Origin` / `Sec-Fetch-Site`) and the
//!   error summary of a form the API refused.
//! * [`money`] — amounts from integer cents, formatted with the currency.
//! * [`assets`] — the CSS and the little JavaScript, embedded in the binary.
//! * `pages/` — one file per group of pages; templates in `templates/`.
//!
//! Every page works without JavaScript: navigation is links, every change is a `<form>`
//! POST answered with a redirect (POST-redirect-GET). Scripts only enhance.

pub mod api;
pub mod assets;
pub mod chrome;
pub mod failure;
pub mod forms;
pub mod money;
pub mod pages;
pub mod visitor;

use axum::Router;
use axum::middleware;

pub use api::Api;

/// What the pages need besides the API.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// ISO currency code of every charge (`usd`), for showing amounts.
    pub currency: String,
    /// Payments go to the built-in test processor (test cards, test 3-D Secure page).
    pub test_payments: bool,
    /// With Stripe: what the browser needs to collect the card and run 3-D Secure.
    pub stripe: Option<StripeBrowser>,
}

/// Stripe.js in the buyer's browser. Card numbers go from Stripe's own field straight to
/// Stripe; BoxOffice only ever sees the PaymentMethod id it returns. Stripe.js has to be
/// loaded from Stripe (it is never bundled), so it is the one script not served by us.
#[derive(Debug, Clone)]
pub struct StripeBrowser {
    /// The publishable key (`pk_…`): public by design, safe in a page.
    pub publishable_key: String,
    /// Where Stripe.js is loaded from (`https://js.stripe.com/v3/`).
    pub js_url: String,
}

/// Shared by every page handler.
#[derive(Debug, Clone)]
pub struct Web {
    pub api: Api,
    pub config: WebConfig,
}

/// Every page of the UI, its assets, and the HTML 404 for unknown pages. The caller
/// routes `/api/…` (and health, metrics, the OpenAPI document) to the API before this.
pub fn router(api: Api, config: WebConfig) -> Router {
    let web = Web { api, config };
    pages::routes()
        .merge(assets::routes())
        .fallback(failure::not_found_page)
        .method_not_allowed_fallback(failure::wrong_method_page)
        .layer(middleware::from_fn(forms::refuse_cross_site_forms))
        .layer(middleware::from_fn_with_state(
            web.clone(),
            failure::with_visitor,
        ))
        .with_state(web)
}
