//! The stylesheet and the small scripts, written for BoxOffice and compiled into the
//! binary: no CDN, no third-party files, no build step.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::Web;

const CSS: &str = include_str!("../static/site.css");
const JS: &str = include_str!("../static/site.js");
/// The checkout's hold countdown.
const CHECKOUT_JS: &str = include_str!("../static/checkout.js");
/// The pay form and the 3-D Secure step with Stripe.js.
const STRIPE_PAY_JS: &str = include_str!("../static/stripe-pay.js");
/// The queue page's live place (Server-Sent Events).
const QUEUE_JS: &str = include_str!("../static/queue.js");
/// The waiting room's live place (Server-Sent Events).
const ROOM_JS: &str = include_str!("../static/room.js");

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/static/site.css", get(css))
        .route("/static/site.js", get(js))
        .route("/static/checkout.js", get(|| script(CHECKOUT_JS)))
        .route("/static/queue.js", get(|| script(QUEUE_JS)))
        .route("/static/room.js", get(|| script(ROOM_JS)))
        .route("/static/stripe-pay.js", get(|| script(STRIPE_PAY_JS)))
}

async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        CSS,
    )
}

async fn js() -> impl IntoResponse {
    script(JS).await
}

async fn script(source: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        source,
    )
}
