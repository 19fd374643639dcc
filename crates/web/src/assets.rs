//! The stylesheet and the small script, written for BoxOffice and compiled into the
//! binary: no CDN, no third-party files, no build step.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::Web;

const CSS: &str = include_str!("../static/site.css");
const JS: &str = include_str!("../static/site.js");

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/static/site.css", get(css))
        .route("/static/site.js", get(js))
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
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        JS,
    )
}
