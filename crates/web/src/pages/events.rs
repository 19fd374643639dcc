//! The events catalogue (CONTRACT §11): upcoming events searched and paged, an event's
//! page with its tickets — several can be chosen and bought together through the basket
//! form (`POST /basket`, one multi-ticket order, handled by the buying pages) — and the
//! form to add an event. Also the event as other pages show it (the ticket page, the
//! sell form's event choice).

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use crate::Web;
use crate::api::Call;
use crate::chrome::Chrome;
use crate::failure::Failure;
use crate::forms::FormErrors;
use crate::money;
use crate::visitor::Visitor;

use super::browse::{Pager, count, page_number, query_problems, query_string, total_count};
use super::tickets::{PageId, TicketView, html, plausible_id, refusal, shown_on_form, unreadable};

/// Events per page.
const PAGE_SIZE: u64 = 20;

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/events", get(list))
        .route("/events/new", get(new_page).post(create))
        .route("/events/{id}", get(event_page))
}

/// An event as the pages show it.
#[derive(Debug, Clone, Default)]
pub struct EventSummary {
    pub id: String,
    pub name: String,
    pub venue: String,
    /// Its start in words, UTC ("Sat 5 Dec 2026, 19:30 UTC").
    pub when: String,
    pub description: String,
    pub tickets_available: u64,
    /// The cheapest available ticket, formatted; `None` when none is available.
    pub min_price: Option<String>,
}

impl EventSummary {
    fn from_json(event: &Value, currency: &str) -> Option<Self> {
        let text = |name: &str| event[name].as_str().unwrap_or_default().to_owned();
        Some(Self {
            id: event["id"].as_str()?.to_owned(),
            name: text("name"),
            venue: text("venue"),
            when: when(&text("startsAt")),
            description: text("description"),
            tickets_available: event["ticketsAvailable"].as_u64().unwrap_or(0),
            min_price: (!event["minPrice"].is_null())
                .then(|| money::show(&event["minPrice"], currency)),
        })
    }

    fn list(body: &Value, currency: &str) -> Vec<Self> {
        body.as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|item| Self::from_json(item, currency))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// How the sell form's event choice names it.
    pub fn label(&self) -> String {
        format!("{} — {}, {}", self.name, self.venue, self.when)
    }
}

/// An RFC 3339 instant as people read it, in UTC; the text itself if it is not one.
pub fn when(text: &str) -> String {
    let format = format_description!(
        "[weekday repr:short] [day padding:none] [month repr:short] [year], [hour]:[minute] UTC"
    );
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .and_then(|at| at.to_offset(time::UtcOffset::UTC).format(&format).ok())
        .unwrap_or_else(|| text.to_owned())
}

/// One event, or the failure to show (404 for an unknown or malformed id).
pub async fn fetch_event(web: &Web, id: &str) -> Result<EventSummary, Failure> {
    if !plausible_id(id) {
        return Err(Failure::NotFound);
    }
    let reply = web.api.get(&format!("/api/events/{id}"), None).await?;
    if !reply.is_success() {
        return Err(Failure::from_reply(&reply, &format!("/events/{id}")));
    }
    EventSummary::from_json(&reply.body, &web.config.currency).ok_or(Failure::NotFound)
}

/// The next upcoming events, soonest first, for choosing one; empty if the API cannot
/// say (the form still works without an event).
pub async fn upcoming_events(web: &Web) -> Vec<EventSummary> {
    match web.api.get("/api/events?limit=100", None).await {
        Ok(reply) if reply.is_success() => EventSummary::list(&reply.body, &web.config.currency),
        _ => Vec::new(),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct EventSearch {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: String,
}

#[derive(Template)]
#[template(path = "events.html")]
struct EventsPage {
    chrome: Chrome,
    q: String,
    events: Vec<EventSummary>,
    count: String,
    pager: Pager,
    errors: FormErrors,
    down: bool,
}

async fn list(
    State(web): State<Web>,
    visitor: Visitor,
    Query(search): Query<EventSearch>,
) -> Result<Response, Failure> {
    let filters = vec![("q", search.q.trim().to_owned())];
    let mut pairs = filters.clone();
    pairs.push(("page", search.page.trim().to_owned()));
    pairs.push(("limit", PAGE_SIZE.to_string()));
    let mut view = EventsPage {
        chrome: Chrome::new("Events", &visitor),
        q: search.q.clone(),
        events: Vec::new(),
        count: String::new(),
        pager: Pager::default(),
        errors: FormErrors::default(),
        down: false,
    };
    let Ok(reply) = web
        .api
        .get(&format!("/api/events?{}", query_string(&pairs)), None)
        .await
    else {
        view.down = true;
        return html(StatusCode::SERVICE_UNAVAILABLE, &view);
    };
    match reply.status {
        status if status.is_success() => {
            let total = total_count(&reply);
            view.events = EventSummary::list(&reply.body, &web.config.currency);
            view.count = count(total, "event", "events");
            let page = page_number(&search.page);
            view.pager = Pager::new("/events", &filters, page, total, PAGE_SIZE);
            html(StatusCode::OK, &view)
        }
        StatusCode::BAD_REQUEST => {
            view.errors = query_problems(&reply, &["q"]);
            view.chrome = view.chrome.with_error(true);
            html(StatusCode::BAD_REQUEST, &view)
        }
        StatusCode::TOO_MANY_REQUESTS => Err(Failure::from_reply(&reply, "/events")),
        _ => {
            view.down = true;
            html(StatusCode::SERVICE_UNAVAILABLE, &view)
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct EventOutcome {
    error: Option<String>,
    done: Option<String>,
}

#[derive(Template)]
#[template(path = "event.html")]
struct EventPage {
    chrome: Chrome,
    event: EventSummary,
    tickets: Vec<TicketView>,
    viewer: Option<String>,
    refusal: Option<&'static str>,
}

impl EventPage {
    /// A ticket this viewer may put in the basket: available, and not their own.
    fn choosable(&self, ticket: &TicketView) -> bool {
        ticket.is_available() && self.viewer.as_deref() != Some(ticket.user_id.as_str())
    }

    fn own(&self, ticket: &TicketView) -> bool {
        self.viewer.as_deref() == Some(ticket.user_id.as_str())
    }

    fn any_choosable(&self) -> bool {
        self.tickets.iter().any(|ticket| self.choosable(ticket))
    }
}

async fn event_page(
    State(web): State<Web>,
    visitor: Visitor,
    PageId(id): PageId,
    Query(outcome): Query<EventOutcome>,
) -> Result<Response, Failure> {
    let event = fetch_event(&web, &id).await?;
    let path = format!("/api/tickets?eventId={}&sort=price&limit=200", event.id);
    let reply = web.api.get(&path, visitor.session()).await?;
    if !reply.is_success() {
        return Err(Failure::from_reply(&reply, &format!("/events/{id}")));
    }
    let notice = match outcome.done.as_deref() {
        Some("created") => Some("Event created".to_owned()),
        Some("exists") => Some("This event was already listed; here it is".to_owned()),
        _ => None,
    };
    let page = EventPage {
        chrome: Chrome::new(event.name.clone(), &visitor).with_notice(notice),
        tickets: TicketView::list(&reply.body, &web.config.currency),
        event,
        viewer: visitor.user.as_ref().map(|user| user.id.clone()),
        refusal: refusal(outcome.error.as_deref()),
    };
    html(StatusCode::OK, &page)
}

/// The new-event form's fields, as typed.
#[derive(Debug, Default, Deserialize)]
pub struct EventForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    venue: String,
    #[serde(default, rename = "startsAt")]
    starts_at: String,
    #[serde(default)]
    description: String,
}

impl EventForm {
    /// The start as RFC 3339: a `datetime-local` value (`2027-03-01T19:30`) is taken as
    /// UTC, as the form says; anything else is sent as typed for the API to judge.
    fn starts_at_utc(&self) -> String {
        let text = self.starts_at.trim();
        let local = |len: usize| text.len() == len && text.as_bytes().get(10) == Some(&b'T');
        if local(16) {
            format!("{text}:00Z")
        } else if local(19) {
            format!("{text}Z")
        } else {
            text.to_owned()
        }
    }
}

#[derive(Template)]
#[template(path = "event_new.html")]
struct NewEventPage {
    chrome: Chrome,
    form: EventForm,
    errors: FormErrors,
}

async fn new_page(visitor: Visitor) -> Result<Response, Failure> {
    if !visitor.signed_in() {
        return Err(Failure::SignIn {
            next: "/events/new".to_owned(),
        });
    }
    let page = NewEventPage {
        chrome: Chrome::new("Add an event", &visitor),
        form: EventForm::default(),
        errors: FormErrors::default(),
    };
    html(StatusCode::OK, &page)
}

async fn create(
    State(web): State<Web>,
    visitor: Visitor,
    form: Result<Form<EventForm>, FormRejection>,
) -> Result<Response, Failure> {
    let next = "/events/new";
    if !visitor.signed_in() {
        return Err(Failure::SignIn {
            next: next.to_owned(),
        });
    }
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) => {
            let (status, errors) = unreadable(&rejection);
            return refused(&visitor, status, EventForm::default(), errors);
        }
    };
    let body = json!({
        "name": form.name,
        "venue": form.venue,
        "startsAt": form.starts_at_utc(),
        "description": form.description,
    });
    let call = Call {
        session: visitor.session(),
        body: Some(body),
        ..Call::default()
    };
    let reply = web.api.send(Method::POST, "/api/events", call).await?;
    if reply.is_success() {
        let id = reply.body["id"].as_str().unwrap_or_default();
        if !plausible_id(id) {
            return Err(Failure::Internal("event without an id".to_owned()));
        }
        let done = if reply.status == StatusCode::CREATED {
            "created"
        } else {
            "exists"
        };
        return Ok(Redirect::to(&format!("/events/{id}?done={done}")).into_response());
    }
    if !shown_on_form(reply.status) {
        return Err(Failure::from_reply(&reply, next));
    }
    refused(
        &visitor,
        reply.status,
        form,
        FormErrors::new(reply.problems()),
    )
}

/// The form again after it was refused: what was typed, why, and the refusal's status.
fn refused(
    visitor: &Visitor,
    status: StatusCode,
    form: EventForm,
    errors: FormErrors,
) -> Result<Response, Failure> {
    let page = NewEventPage {
        chrome: Chrome::new("Add an event", visitor).with_error(true),
        errors,
        form,
    };
    html(status, &page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_are_shown_in_utc_words() {
        assert_eq!(when("2026-12-05T19:30:00Z"), "Sat 5 Dec 2026, 19:30 UTC");
        assert_eq!(
            when("2026-12-05T20:30:00+01:00"),
            "Sat 5 Dec 2026, 19:30 UTC"
        );
        assert_eq!(when("soon"), "soon");
    }

    #[test]
    fn a_local_date_time_is_taken_as_utc() {
        let form = |text: &str| EventForm {
            starts_at: text.to_owned(),
            ..EventForm::default()
        };
        assert_eq!(
            form("2027-03-01T19:30").starts_at_utc(),
            "2027-03-01T19:30:00Z"
        );
        assert_eq!(
            form("2027-03-01T19:30:05").starts_at_utc(),
            "2027-03-01T19:30:05Z"
        );
        assert_eq!(form("tomorrow").starts_at_utc(), "tomorrow");
    }
}
