//! The events catalogue (CONTRACT §11): upcoming events searched and paged, an event's
//! page with its tickets — several can be chosen and bought together through the basket
//! form (`POST /basket`, one multi-ticket order, handled by the buying pages). Also the
//! event as other pages show it (the ticket page, the sell form's event choice). Adding
//! an event is `event_new`.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use crate::Web;
use crate::chrome::Chrome;
use crate::failure::Failure;
use crate::forms::FormErrors;
use crate::money;
use crate::visitor::Visitor;

use super::browse::{Pager, count, page_number, query_problems, query_string, total_count};
use super::buy::new_key;
use super::common::{PageQuery, html};
use super::tickets::{PageId, TicketView, plausible_id, refusal};

/// Events per page.
const PAGE_SIZE: u64 = 20;

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/events", get(list))
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
    PageQuery(search): PageQuery<EventSearch>,
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
    /// The basket form's `Idempotency-Key`, new for every render.
    idempotency_key: String,
    /// While the event's tickets are behind a waiting room: what it is doing, in words.
    room: Option<String>,
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
    PageQuery(outcome): PageQuery<EventOutcome>,
) -> Result<Response, Failure> {
    let event = fetch_event(&web, &id).await?;
    let path = format!("/api/tickets?eventId={}&sort=price&limit=200", event.id);
    let reply = web.api.get(&path, visitor.session()).await?;
    if !reply.is_success() {
        return Err(Failure::from_reply(&reply, &format!("/events/{id}")));
    }
    let room = web
        .api
        .get(&format!("/api/events/{}/room", event.id), None)
        .await?;
    let room = (room.is_success()
        && !matches!(room.body["state"].as_str(), Some("sold_out" | "closed")))
    .then(|| super::room::room_words(&room.body));
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
        idempotency_key: new_key(),
        room,
    };
    html(StatusCode::OK, &page)
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
}
