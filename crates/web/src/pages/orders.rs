//! The buying pages' routes, and the order history `/orders` (UI.md page 10): the
//! caller's orders newest first (the API lists them oldest first), each with its status
//! badge and, when cancelled, the reason in plain words.
//!
//! The rest of buying lives beside this file: `buy` (place an order), `checkout` (an
//! order's page in every state, cancelling), `pay` (paying, test 3-D Secure),
//! `order_view` (an order in the pages' words).

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;

use super::common::{SignedIn, html};
use super::order_view::{OrderView, ok_body};
use super::{buy, checkout, pay};
use crate::Web;
use crate::chrome::Chrome;
use crate::failure::Failure;

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/orders", get(history))
        .merge(buy::routes())
        .merge(checkout::routes())
        .merge(pay::routes())
}

#[derive(Template)]
#[template(path = "orders.html")]
struct HistoryPage {
    chrome: Chrome,
    orders: Vec<OrderView>,
}

async fn history(State(web): State<Web>, SignedIn(visitor): SignedIn) -> Result<Response, Failure> {
    const NEXT: &str = "/orders";
    let reply = web.api.get("/api/orders", visitor.session()).await?;
    let body = ok_body(reply, NEXT)?;
    let orders = body
        .as_array()
        .map(|orders| {
            orders
                .iter()
                .rev()
                .map(|order| OrderView::from_json(order, &web.config.currency))
                .collect()
        })
        .unwrap_or_default();
    let page = HistoryPage {
        chrome: Chrome::new("My orders", &visitor),
        orders,
    };
    html(StatusCode::OK, &page)
}
