//! Buying: the ticket page's **Buy** form (and the queue's **Buy now**) and an event
//! page's basket both place an order through `POST /api/orders` and go to its checkout.
//!
//! A refusal goes back where the buyer came from with a fixed code the ticket and event
//! pages know (`reserved`, `next_in_line`, `own`); any other refusal is shown on an error
//! page with status 400. A buyer whose turn in the line has just begun, but whom the
//! orders service does not know as such yet, goes back to the turn panel to press again. A second press of Buy finds the order the first press placed
//! (the API answers "already reserved" to it) and goes to that checkout instead.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Form, Router};
use serde_json::{Value, json};

use super::order_view::{OrderView, checked_id, html};
use crate::Web;
use crate::api::{Call, Reply};
use crate::chrome::Chrome;
use crate::failure::Failure;
use crate::visitor::Visitor;

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/tickets/{id}/buy", post(buy))
        .route("/basket", post(basket))
}

/// Where a refused order sends the buyer back to.
#[derive(Template)]
#[template(path = "order_error.html")]
struct RefusedPage {
    chrome: Chrome,
    message: String,
    back: String,
    back_label: &'static str,
}

/// `POST /tickets/{id}/buy`: order one ticket.
async fn buy(
    State(web): State<Web>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    let id = checked_id(&id)?.to_owned();
    let back = format!("/tickets/{id}");
    if !visitor.signed_in() {
        return Err(Failure::SignIn { next: back });
    }
    let reply = place(&web, &visitor, json!({ "ticketId": id })).await?;
    if reply.is_success() {
        return Ok(to_checkout(&reply.body));
    }
    if refusal_code(&reply) == Some("next_in_line") && my_turn(&web, &visitor, &id).await {
        // The line says it is this buyer's turn and the orders service has not heard yet
        // (it learns from the queue's event): back to the turn panel to press again.
        let again = format!("/tickets/{id}/queue?done=turn_starting");
        return Ok(Redirect::to(&again).into_response());
    }
    refused(&web, &visitor, &reply, &[id], Some(back)).await
}

/// `POST /basket`: order every `ticketIds` field, all or none. An `eventId` field, when
/// the form has one, says which event page to go back to.
async fn basket(
    State(web): State<Web>,
    visitor: Visitor,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, Failure> {
    let ids: Vec<String> = fields
        .iter()
        .filter(|(name, _)| name == "ticketIds" || name == "ticketIds[]")
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| !value.is_empty())
        .collect();
    let hinted_event = fields
        .iter()
        .find(|(name, _)| name == "eventId")
        .and_then(|(_, value)| checked_id(value.trim()).ok())
        .map(str::to_owned);
    if !visitor.signed_in() {
        let next = hinted_event.map_or_else(|| "/".to_owned(), |event| format!("/events/{event}"));
        return Err(Failure::SignIn { next });
    }
    if ids.is_empty() {
        let back = hinted_event.map(|event| format!("/events/{event}"));
        return refused_page(&visitor, "Choose at least one ticket.".to_owned(), back);
    }
    let reply = place(&web, &visitor, json!({ "ticketIds": ids })).await?;
    if reply.is_success() {
        return Ok(to_checkout(&reply.body));
    }
    let event = match hinted_event {
        Some(event) => Some(event),
        None => event_of(&web, &visitor, &ids[0]).await,
    };
    let back = event.map(|event| format!("/events/{event}"));
    refused(&web, &visitor, &reply, &ids, back).await
}

async fn place(web: &Web, visitor: &Visitor, body: Value) -> Result<Reply, Failure> {
    let call = Call {
        session: visitor.session(),
        body: Some(body),
        ..Call::default()
    };
    Ok(web.api.send(Method::POST, "/api/orders", call).await?)
}

fn to_checkout(order: &Value) -> Response {
    let id = order["id"].as_str().unwrap_or_default();
    match checked_id(id) {
        Ok(id) => Redirect::to(&format!("/orders/{id}")).into_response(),
        Err(failure) => failure.into_response(),
    }
}

/// The code the ticket and event pages show for a refusal they know.
fn refusal_code(reply: &Reply) -> Option<&'static str> {
    if reply.status != StatusCode::BAD_REQUEST {
        return None;
    }
    match reply.problems().first()?.message.as_str() {
        "Ticket is already reserved" => Some("reserved"),
        "Ticket is reserved for the next buyer in line" => Some("next_in_line"),
        "Cannot buy your own ticket" => Some("own"),
        _ => None,
    }
}

/// Answers a refused order: the buyer's own open order for these tickets (a second
/// press of Buy), back to `back` with the refusal's code, or an error page.
async fn refused(
    web: &Web,
    visitor: &Visitor,
    reply: &Reply,
    ids: &[String],
    back: Option<String>,
) -> Result<Response, Failure> {
    let next = back.clone().unwrap_or_else(|| "/".to_owned());
    let code = refusal_code(reply);
    if code == Some("reserved")
        && let Some(order) = open_order_holding(web, visitor, ids).await
    {
        return Ok(Redirect::to(&format!("/orders/{order}")).into_response());
    }
    match (code, &back) {
        (Some(code), Some(back)) => {
            Ok(Redirect::to(&format!("{back}?error={code}")).into_response())
        }
        _ if reply.status == StatusCode::BAD_REQUEST => {
            let message = reply
                .problems()
                .into_iter()
                .next()
                .map(|problem| problem.message)
                .unwrap_or_default();
            refused_page(visitor, message, back)
        }
        _ => Err(Failure::from_reply(reply, &next)),
    }
}

fn refused_page(
    visitor: &Visitor,
    message: String,
    back: Option<String>,
) -> Result<Response, Failure> {
    let (back, back_label) = match back {
        Some(back) if back.starts_with("/events/") => (back, "Back to the event"),
        Some(back) => (back, "Back to the ticket"),
        None => ("/".to_owned(), "Browse tickets"),
    };
    let page = RefusedPage {
        chrome: Chrome::new("Could not hold the tickets", visitor).with_error(true),
        message,
        back,
        back_label,
    };
    html(StatusCode::BAD_REQUEST, &page)
}

/// The visitor's newest open order that holds every one of `ids`.
async fn open_order_holding(web: &Web, visitor: &Visitor, ids: &[String]) -> Option<String> {
    let reply = web.api.get("/api/orders", visitor.session()).await.ok()?;
    let orders = reply.body.as_array()?;
    orders
        .iter()
        .rev()
        .map(|order| OrderView::from_json(order, &web.config.currency))
        .find(|order| order.is_open() && order.holds_all(ids))
        .and_then(|order| checked_id(&order.id).ok().map(str::to_owned))
}

/// The event a ticket belongs to, if any.
async fn event_of(web: &Web, visitor: &Visitor, ticket: &str) -> Option<String> {
    let ticket = checked_id(ticket).ok()?;
    let reply = web
        .api
        .get(&format!("/api/tickets/{ticket}"), visitor.session())
        .await
        .ok()?;
    let event = reply.body["eventId"].as_str()?;
    checked_id(event).ok().map(str::to_owned)
}

/// Whether the visitor's turn for `ticket` is running, as the queue says.
async fn my_turn(web: &Web, visitor: &Visitor, ticket: &str) -> bool {
    let Ok(reply) = web
        .api
        .get(&format!("/api/queue/{ticket}"), visitor.session())
        .await
    else {
        return false;
    };
    reply.is_success() && reply.body["turnExpiresAt"].is_string()
}
