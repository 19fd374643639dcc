//! A ticket's own page (UI.md §1 page 2) with the one action its state allows the viewer,
//! and the confirmation page for deleting a listing (page 5's "Delete", a real page, not a
//! script dialog). Also what the other ticket pages share: the ticket as a page shows it,
//! the check that a path id can be an id at all, and the path extractor built on it.
//!
//! The Buy form posts to `/tickets/{id}/buy` and "Join the line" goes to
//! `/tickets/{id}/queue`; both belong to the buying pages (`orders`, `queue`), which send
//! a refused purchase back here as `?error=reserved|next_in_line|own`.

use askama::Template;
use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::Value;

use crate::Web;
use crate::api::{Call, Problem};
use crate::chrome::Chrome;
use crate::failure::Failure;
use crate::forms::FormErrors;
use crate::money;
use crate::visitor::{User, Visitor};

use super::buy::new_key;
use super::common::{PageQuery, Refusal, done_notice, html, require_user};
use super::events::{EventSummary, fetch_event};
use super::order_view::{clock_time, instant};

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/tickets/{id}", get(ticket_page))
        .route("/tickets/{id}/delete", get(delete_page).post(delete_ticket))
}

/// A ticket as the pages show it: its amount already formatted, its status in words.
#[derive(Debug, Clone, Default)]
pub struct TicketView {
    pub id: String,
    pub title: String,
    /// Formatted with the currency (`$20.50`).
    pub price: String,
    /// The amount as typed in a form (`20.50`), for prefilling the edit form.
    pub price_input: String,
    pub description: String,
    /// `available`, `reserved` or `sold`.
    pub status: String,
    pub user_id: String,
    pub event_id: Option<String>,
    pub serial_number: Option<String>,
    /// The order holding or having bought it.
    pub order_id: Option<String>,
}

impl TicketView {
    /// The ticket JSON of CONTRACT §4 / §11; `None` if it is not one.
    pub fn from_json(ticket: &Value, currency: &str) -> Option<Self> {
        let text = |name: &str| ticket[name].as_str().map(str::to_owned);
        Some(Self {
            id: text("id")?,
            title: text("title").unwrap_or_default(),
            price: money::show(&ticket["price"], currency),
            price_input: money::cents(&ticket["price"])
                .map(|cents| format!("{}.{:02}", cents / 100, cents % 100))
                .unwrap_or_default(),
            description: text("description").unwrap_or_default(),
            status: text("status").unwrap_or_default(),
            user_id: text("userId").unwrap_or_default(),
            event_id: text("eventId"),
            serial_number: text("serialNumber"),
            order_id: text("orderId"),
        })
    }

    /// Every ticket of a list answer.
    pub fn list(body: &Value, currency: &str) -> Vec<Self> {
        body.as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|item| Self::from_json(item, currency))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The badge's words (UI.md "Words and statuses").
    pub fn badge(&self) -> &'static str {
        match self.status.as_str() {
            "available" => "Available",
            "reserved" => "Reserved",
            "sold" => "Sold",
            _ => "Unknown",
        }
    }

    pub fn is_available(&self) -> bool {
        self.status == "available"
    }

    pub fn is_reserved(&self) -> bool {
        self.status == "reserved"
    }

    pub fn is_sold(&self) -> bool {
        self.status == "sold"
    }

    pub fn owned_by(&self, user: Option<&User>) -> bool {
        user.is_some_and(|user| user.id == self.user_id)
    }
}

/// Whether a path segment can be an id (UUID text). Anything else is a 404 at once and
/// never reaches an API path, so no `..` or `?` can change which API route is called.
pub fn plausible_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The `{id}` of a page's path, if it can be an id at all; any other path (or one that
/// is not UTF-8) is the 404 page, inside the layout.
#[derive(Debug, Clone)]
pub struct PageId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PageId {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Failure> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(id)) if plausible_id(&id) => Ok(Self(id)),
            _ => Err(Failure::NotFound),
        }
    }
}

/// Fetches a ticket, or the failure to show instead (404 for an unknown or malformed id).
pub async fn fetch_ticket(
    web: &Web,
    id: &str,
    session: Option<&str>,
) -> Result<TicketView, Failure> {
    if !plausible_id(id) {
        return Err(Failure::NotFound);
    }
    let reply = web.api.get(&format!("/api/tickets/{id}"), session).await?;
    if !reply.is_success() {
        return Err(Failure::from_reply(&reply, &format!("/tickets/{id}")));
    }
    TicketView::from_json(&reply.body, &web.config.currency).ok_or(Failure::NotFound)
}

/// Whether an API refusal of a form is shown on the form itself, with the API's status:
/// any client error but those with pages of their own (sign-in, not found, too many).
pub fn shown_on_form(status: StatusCode) -> bool {
    status.is_client_error()
        && !matches!(
            status,
            StatusCode::UNAUTHORIZED | StatusCode::NOT_FOUND | StatusCode::TOO_MANY_REQUESTS
        )
}

/// A form body that could not be read (too large, not a form): its status, and one
/// problem for the error summary.
pub fn unreadable(rejection: &FormRejection) -> (StatusCode, FormErrors) {
    let problem = Problem {
        message: "The form could not be read. Please check it and send it again.".to_owned(),
        field: None,
    };
    (rejection.status(), FormErrors::new(vec![problem]))
}

/// A refused purchase, from the buying pages' `?error=` code (never the query's text).
pub fn refusal(code: Option<&str>) -> Option<&'static str> {
    Refusal::parse(code).map(Refusal::message)
}

/// What a redirect back to a ticket page may say.
#[derive(Debug, Default, Deserialize)]
pub struct Outcome {
    error: Option<String>,
    done: Option<String>,
}

#[derive(Template)]
#[template(path = "ticket.html")]
struct TicketPage {
    chrome: Chrome,
    ticket: TicketView,
    event: Option<EventSummary>,
    own: bool,
    /// The viewer's own order holding the ticket, when it is in their basket.
    my_order: Option<String>,
    refusal: Option<&'static str>,
    /// The Buy form's `Idempotency-Key`, new for every render.
    idempotency_key: String,
    /// The line for a ticket someone else holds.
    line: Option<LineView>,
}

/// What a ticket's page says of its line: "Held by another buyer until about 14:32 —
/// Join the line (you'd be #3)".
struct LineView {
    /// The end of the current hold, as a clock time (it moves when a payment runs, so
    /// "about").
    held_until: Option<String>,
    /// The place a buyer joining now would get.
    next_place: u64,
    /// The visitor's place, when they already wait.
    my_place: Option<u64>,
}

/// The line of `ticket` (`GET /api/queue/{id}/line`) and the visitor's place in it. The
/// page is still useful without it, so a failure leaves the line out.
async fn fetch_line(web: &Web, visitor: &Visitor, ticket: &str) -> Option<LineView> {
    let line = web
        .api
        .get(&format!("/api/queue/{ticket}/line"), None)
        .await
        .ok()
        .filter(|reply| reply.is_success())?
        .body;
    let my_place = if visitor.signed_in() {
        web.api
            .get(&format!("/api/queue/{ticket}"), visitor.session())
            .await
            .ok()
            .filter(|reply| reply.is_success())
            .and_then(|reply| reply.body["position"].as_u64())
    } else {
        None
    };
    Some(LineView {
        held_until: instant(&line["heldUntil"]).map(clock_time),
        next_place: line["totalInQueue"].as_u64().unwrap_or(0) + 1,
        my_place,
    })
}

async fn ticket_page(
    State(web): State<Web>,
    visitor: Visitor,
    PageId(id): PageId,
    PageQuery(outcome): PageQuery<Outcome>,
) -> Result<Response, Failure> {
    let ticket = fetch_ticket(&web, &id, visitor.session()).await?;
    let event = match &ticket.event_id {
        Some(event_id) => fetch_event(&web, event_id).await.ok(),
        None => None,
    };
    let own = ticket.owned_by(visitor.user.as_ref());
    let my_order = match &ticket.order_id {
        Some(order) if ticket.is_reserved() && !own && visitor.signed_in() => {
            holds(&web, &visitor, order).await.then(|| order.clone())
        }
        _ => None,
    };
    let line = if ticket.is_reserved() && !own && my_order.is_none() {
        fetch_line(&web, &visitor, &id).await
    } else {
        None
    };
    let page = TicketPage {
        chrome: Chrome::new(ticket.title.clone(), &visitor)
            .with_notice(done_notice(outcome.done.as_deref())),
        own,
        my_order,
        refusal: refusal(outcome.error.as_deref()),
        idempotency_key: new_key(),
        ticket,
        event,
        line,
    };
    html(StatusCode::OK, &page)
}

/// Whether `order` is the visitor's own (the API shows an order only to its buyer).
async fn holds(web: &Web, visitor: &Visitor, order: &str) -> bool {
    if !plausible_id(order) {
        return false;
    }
    let path = format!("/api/orders/{order}");
    matches!(web.api.get(&path, visitor.session()).await, Ok(reply) if reply.is_success())
}

#[derive(Template)]
#[template(path = "ticket_delete.html")]
struct DeletePage {
    chrome: Chrome,
    ticket: TicketView,
    errors: FormErrors,
}

/// The seller's own ticket, or the failure to show: sign in first, and someone else's
/// ticket is "not found" (its page says nothing about who sells it).
pub async fn own_ticket(
    web: &Web,
    visitor: &Visitor,
    id: &str,
    next: &str,
) -> Result<TicketView, Failure> {
    require_user(visitor, next)?;
    let ticket = fetch_ticket(web, id, visitor.session()).await?;
    if ticket.owned_by(visitor.user.as_ref()) {
        Ok(ticket)
    } else {
        Err(Failure::NotFound)
    }
}

async fn delete_page(
    State(web): State<Web>,
    visitor: Visitor,
    PageId(id): PageId,
) -> Result<Response, Failure> {
    let ticket = own_ticket(&web, &visitor, &id, &format!("/tickets/{id}/delete")).await?;
    let page = DeletePage {
        chrome: Chrome::new("Delete listing", &visitor),
        ticket,
        errors: FormErrors::default(),
    };
    html(StatusCode::OK, &page)
}

/// Withdraws the listing; a ticket in someone's basket stays, with the API's reason.
async fn delete_ticket(
    State(web): State<Web>,
    visitor: Visitor,
    PageId(id): PageId,
) -> Result<Response, Failure> {
    let next = format!("/tickets/{id}/delete");
    let ticket = own_ticket(&web, &visitor, &id, &next).await?;
    let call = Call {
        session: visitor.session(),
        ..Call::default()
    };
    let reply = web
        .api
        .send(Method::DELETE, &format!("/api/tickets/{}", ticket.id), call)
        .await?;
    if reply.is_success() {
        return Ok(Redirect::to("/my/listings?done=deleted").into_response());
    }
    if !shown_on_form(reply.status) {
        return Err(Failure::from_reply(&reply, &next));
    }
    let page = DeletePage {
        chrome: Chrome::new("Delete listing", &visitor).with_error(true),
        ticket,
        errors: FormErrors::new(reply.problems()),
    };
    html(reply.status, &page)
}
