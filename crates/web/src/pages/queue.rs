//! The line for a held ticket, `/tickets/{id}/queue` (UI.md page 11 and §3).
//!
//! Without JavaScript the page shows the place as of its loading and a "Check my
//! position" link (never a meta refresh), a **Join the line** or **Leave the line** form,
//! and when it is the buyer's turn a panel "It's your turn" with **Buy now** (which posts
//! to the ticket's buy form). `static/queue.js` follows the API's event stream to keep
//! the place, the tab title and the turn panel up to date.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;

use super::buy::new_key;
use super::common::{PageQuery, SignedIn, html, require_user};
use super::order_view::{clock_time_seconds, instant, ok_body, rfc3339};
use super::tickets::PageId;
use crate::Web;
use crate::api::{Call, Problem};
use crate::chrome::Chrome;
use crate::failure::Failure;
use crate::forms::FormErrors;
use crate::visitor::Visitor;

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/tickets/{id}/queue", get(show).post(join))
        .route("/tickets/{id}/queue/leave", post(leave))
}

/// The buyer's place, as `GET /api/queue/{ticketId}` tells it.
#[derive(Debug, Clone)]
struct PlaceView {
    position: u64,
    total: u64,
    /// "Estimated wait: up to about 4 minutes", when there is a wait.
    wait: Option<String>,
    /// While it is the buyer's turn: when it ends.
    turn_expires_at: Option<OffsetDateTime>,
}

impl PlaceView {
    fn from_json(place: &Value) -> Self {
        Self {
            position: place["position"].as_u64().unwrap_or_default(),
            total: place["totalInQueue"].as_u64().unwrap_or_default(),
            wait: wait_words(place),
            turn_expires_at: instant(&place["turnExpiresAt"]),
        }
    }

    fn turn(&self) -> bool {
        self.turn_expires_at.is_some()
    }

    fn turn_until(&self) -> String {
        self.turn_expires_at
            .map(clock_time_seconds)
            .unwrap_or_default()
    }

    fn turn_expires_at_rfc3339(&self) -> String {
        self.turn_expires_at.map(rfc3339).unwrap_or_default()
    }
}

/// The wait in words: a range when the API gives one (`estimatedWait {lowSeconds,
/// highSeconds}`), else the API's single estimate, which assumes everyone ahead lets
/// their turn pass — an upper bound.
fn wait_words(place: &Value) -> Option<String> {
    let high = place["estimatedWaitSeconds"].as_u64()?;
    let low = place["earliestWaitSeconds"].as_u64().unwrap_or(0).min(high);
    if high == 0 {
        return None;
    }
    if high < 60 {
        return Some("Estimated wait: under a minute".to_owned());
    }
    let (low, high) = (low.div_ceil(60), high.div_ceil(60));
    Some(if low == high {
        format!("Estimated wait: about {}", minutes_words(high))
    } else if low == 0 {
        format!(
            "Estimated wait: under a minute to about {}",
            minutes_words(high)
        )
    } else {
        format!("Estimated wait: about {low}–{high} minutes")
    })
}

/// "1 minute", "4 minutes".
fn minutes_words(minutes: u64) -> String {
    let unit = if minutes == 1 { "minute" } else { "minutes" };
    format!("{minutes} {unit}")
}

#[derive(Template)]
#[template(path = "queue.html")]
struct QueuePage {
    chrome: Chrome,
    ticket_id: String,
    title: String,
    /// The ticket's status: `available`, `reserved` or `sold`.
    ticket_status: String,
    place: Option<PlaceView>,
    /// The server's clock, for the turn's countdown.
    now: String,
    /// "14:31:05 UTC": when the place shown was read.
    as_of: String,
    errors: FormErrors,
    /// The Buy (now) form's `Idempotency-Key`, new for every render.
    idempotency_key: String,
}

#[derive(Debug, Default, Deserialize)]
struct Shown {
    done: Option<String>,
}

async fn show(
    State(web): State<Web>,
    PageId(id): PageId,
    SignedIn(visitor): SignedIn,
    PageQuery(shown): PageQuery<Shown>,
) -> Result<Response, Failure> {
    let notice = match shown.done.as_deref() {
        Some("left") => Some("You left the line".to_owned()),
        Some("turn_starting") => {
            Some("Your turn is just starting. Press Buy now again in a moment.".to_owned())
        }
        _ => None,
    };
    page(&web, &visitor, &id, notice, FormErrors::default()).await
}

/// The queue page for ticket `id`, with `errors` (and status 400) when joining was
/// refused.
async fn page(
    web: &Web,
    visitor: &Visitor,
    id: &str,
    notice: Option<String>,
    errors: FormErrors,
) -> Result<Response, Failure> {
    let next = format!("/tickets/{id}/queue");
    let ticket = web
        .api
        .get(&format!("/api/tickets/{id}"), visitor.session())
        .await?;
    let ticket = ok_body(ticket, &next)?;
    let place = web
        .api
        .get(&format!("/api/queue/{id}"), visitor.session())
        .await?;
    let place = match place.status {
        StatusCode::NOT_FOUND => None,
        _ => Some(PlaceView::from_json(&ok_body(place, &next)?)),
    };
    let title = ticket["title"].as_str().unwrap_or_default().to_owned();
    let now = OffsetDateTime::now_utc();
    let status = if errors.any() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = QueuePage {
        chrome: Chrome::new(format!("Line for {title}"), visitor)
            .with_notice(notice)
            .with_error(errors.any()),
        ticket_id: id.to_owned(),
        title,
        ticket_status: ticket["status"].as_str().unwrap_or_default().to_owned(),
        place,
        now: rfc3339(now),
        as_of: clock_time_seconds(now),
        errors,
        idempotency_key: new_key(),
    };
    html(status, &page)
}

/// `POST /tickets/{id}/queue` → `POST /api/queue/{id}`; joining twice keeps the place.
async fn join(
    State(web): State<Web>,
    PageId(id): PageId,
    SignedIn(visitor): SignedIn,
) -> Result<Response, Failure> {
    let next = format!("/tickets/{id}/queue");
    let call = Call {
        session: visitor.session(),
        ..Call::default()
    };
    let reply = web
        .api
        .send(Method::POST, &format!("/api/queue/{id}"), call)
        .await?;
    if reply.is_success() {
        return Ok(Redirect::to(&next).into_response());
    }
    if reply.status != StatusCode::BAD_REQUEST {
        return Err(Failure::from_reply(&reply, &next));
    }
    let problems = reply
        .problems()
        .into_iter()
        .map(|problem| Problem {
            message: problem.message,
            field: Some("queue-actions".to_owned()),
        })
        .collect();
    page(&web, &visitor, &id, None, FormErrors::new(problems)).await
}

/// `POST /tickets/{id}/queue/leave` → `DELETE /api/queue/{id}`.
async fn leave(
    State(web): State<Web>,
    PageId(id): PageId,
    visitor: Visitor,
) -> Result<Response, Failure> {
    let next = format!("/tickets/{id}/queue");
    require_user(&visitor, &next)?;
    let call = Call {
        session: visitor.session(),
        ..Call::default()
    };
    let reply = web
        .api
        .send(Method::DELETE, &format!("/api/queue/{id}"), call)
        .await?;
    if !reply.is_success() {
        return Err(Failure::from_reply(&reply, &next));
    }
    Ok(Redirect::to(&format!("{next}?done=left")).into_response())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_wait_reads_as_a_range_in_minutes() {
        let words = |low: u64, high: u64| {
            wait_words(&json!({"earliestWaitSeconds": low, "estimatedWaitSeconds": high}))
        };
        assert_eq!(
            words(250, 610).as_deref(),
            Some("Estimated wait: about 5–11 minutes")
        );
        assert_eq!(words(0, 0), None);
        assert_eq!(
            words(0, 300).as_deref(),
            Some("Estimated wait: under a minute to about 5 minutes")
        );
        assert_eq!(
            words(61, 110).as_deref(),
            Some("Estimated wait: about 2 minutes")
        );
        assert_eq!(
            words(10, 50).as_deref(),
            Some("Estimated wait: under a minute")
        );
        assert_eq!(
            wait_words(&json!({"estimatedWaitSeconds": 120})).as_deref(),
            Some("Estimated wait: under a minute to about 2 minutes"),
            "without a lower bound the range starts at zero"
        );
    }
}
