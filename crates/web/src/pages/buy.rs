//! Buying: the ticket page's **Buy** form (and the queue's **Buy now**) and an event
//! page's basket both place an order through `POST /api/orders` and go to its checkout.
//!
//! Every buy form carries a hidden `idempotency_key` (a UUID v7 made when the form was
//! rendered), sent as the order's `Idempotency-Key`: a second press of the same form
//! gets the API's first answer again — the same order — and goes to the same checkout.
//!
//! A refusal goes back where the buyer came from with a fixed code the ticket and event
//! pages know (`reserved`, `next_in_line`, `own`, see [`Refusal`]); any other refusal is
//! shown on an error page with status 400. A buyer whose turn in the line has just begun,
//! but whom the orders service does not know as such yet, goes back to the turn panel to
//! press again.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use serde::Deserialize;
use serde_json::{Value, json};

use super::common::{PageForm, Refusal, html, require_user};
use super::tickets::{PageId, plausible_id};
use crate::Web;
use crate::api::{Call, Reply};
use crate::chrome::Chrome;
use crate::failure::Failure;
use crate::visitor::{Visitor, admission_cookies};

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/tickets/{id}/buy", post(buy))
        .route("/basket", post(basket))
}

/// A new key for a buy form, rendered as its hidden `idempotency_key`.
pub fn new_key() -> String {
    uuid::Uuid::now_v7().to_string()
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

#[derive(Debug, Default, Deserialize)]
struct BuyForm {
    #[serde(default)]
    idempotency_key: String,
}

/// `POST /tickets/{id}/buy`: order one ticket.
async fn buy(
    State(web): State<Web>,
    headers: HeaderMap,
    visitor: Visitor,
    PageId(id): PageId,
    PageForm(form): PageForm<BuyForm>,
) -> Result<Response, Failure> {
    let back = format!("/tickets/{id}");
    require_user(&visitor, &back)?;
    let body = json!({ "ticketId": id });
    let admissions = admission_cookies(&headers);
    let reply = place(
        &web,
        &visitor,
        body,
        &form.idempotency_key,
        admissions.as_deref(),
    )
    .await?;
    if reply.is_success() {
        return to_checkout(&reply.body);
    }
    let refusal = Refusal::of(&reply);
    if refusal == Some(Refusal::NextInLine) && my_turn(&web, &visitor, &id).await {
        // The line says it is this buyer's turn and the orders service has not heard yet
        // (it learns from the queue's event): back to the turn panel to press again.
        let again = format!("/tickets/{id}/queue?done=turn_starting");
        return Ok(Redirect::to(&again).into_response());
    }
    refused(&visitor, &reply, Some(back))
}

/// `POST /basket`: order every `ticketIds` field, all or none. An `eventId` field, when
/// the form has one, says which event page to go back to.
async fn basket(
    State(web): State<Web>,
    headers: HeaderMap,
    visitor: Visitor,
    PageForm(fields): PageForm<Vec<(String, String)>>,
) -> Result<Response, Failure> {
    let field = |wanted: &str| {
        fields
            .iter()
            .find(|(name, _)| name == wanted)
            .map(|(_, value)| value.trim())
    };
    let ids: Vec<String> = fields
        .iter()
        .filter(|(name, _)| name == "ticketIds" || name == "ticketIds[]")
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| !value.is_empty())
        .collect();
    let hinted_event = field("eventId")
        .filter(|id| plausible_id(id))
        .map(str::to_owned);
    let next = hinted_event
        .as_ref()
        .map_or_else(|| "/".to_owned(), |event| format!("/events/{event}"));
    require_user(&visitor, &next)?;
    if ids.is_empty() {
        let back = hinted_event.map(|event| format!("/events/{event}"));
        return refused_page(&visitor, "Choose at least one ticket.".to_owned(), back);
    }
    let key = field("idempotency_key").unwrap_or_default();
    let admissions = admission_cookies(&headers);
    let body = json!({ "ticketIds": ids });
    let reply = place(&web, &visitor, body, key, admissions.as_deref()).await?;
    if reply.is_success() {
        return to_checkout(&reply.body);
    }
    let event = match hinted_event {
        Some(event) => Some(event),
        None => event_of(&web, &visitor, &ids[0]).await,
    };
    let back = event.map(|event| format!("/events/{event}"));
    refused(&visitor, &reply, back)
}

/// `POST /api/orders` with the form's key (none if the form had no usable one) and the
/// browser's waiting-room admissions (an open room's tickets need one).
async fn place(
    web: &Web,
    visitor: &Visitor,
    body: Value,
    key: &str,
    admissions: Option<&str>,
) -> Result<Reply, Failure> {
    let key = key.trim();
    let call = Call {
        session: visitor.session(),
        admissions,
        body: Some(body),
        idempotency_key: (1..=255).contains(&key.len()).then_some(key),
    };
    Ok(web.api.send(Method::POST, "/api/orders", call).await?)
}

fn to_checkout(order: &Value) -> Result<Response, Failure> {
    match order["id"].as_str() {
        Some(id) if plausible_id(id) => Ok(Redirect::to(&format!("/orders/{id}")).into_response()),
        _ => Err(Failure::Internal("order without an id".to_owned())),
    }
}

/// Answers a refused order: back to `back` with the refusal's code, or an error page.
fn refused(visitor: &Visitor, reply: &Reply, back: Option<String>) -> Result<Response, Failure> {
    match (Refusal::of(reply), &back) {
        (Some(refusal), Some(back)) => {
            Ok(Redirect::to(&format!("{back}?error={}", refusal.code())).into_response())
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
        _ => {
            let next = back.unwrap_or_else(|| "/".to_owned());
            Err(Failure::from_reply(reply, &next))
        }
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

/// The event a ticket belongs to, if any.
async fn event_of(web: &Web, visitor: &Visitor, ticket: &str) -> Option<String> {
    if !plausible_id(ticket) {
        return None;
    }
    let reply = web
        .api
        .get(&format!("/api/tickets/{ticket}"), visitor.session())
        .await
        .ok()?;
    let event = reply.body["eventId"].as_str()?;
    plausible_id(event).then(|| event.to_owned())
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
