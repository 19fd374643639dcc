//! An event's waiting room, `/events/{id}/room` (CONTRACT §12).
//!
//! Without JavaScript the page shows the place as of its loading (a load is a sign of
//! life) and a "Check my place" link — never a meta refresh — with **Join** or **Leave**
//! forms, and when the buyer is admitted an "It's your turn" panel leading to the event's
//! tickets. The admission the API hands out with the place is passed on to the browser as
//! its `admission-{eventId}` cookie, which the buying pages forward with the order.
//! `static/room.js` follows the room's event stream to keep the place, the tab title and
//! the panels up to date.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;

use super::common::{PageQuery, html, require_user};
use super::events::{fetch_event, when};
use super::order_view::{clock_time_seconds, instant, ok_body, rfc3339};
use super::tickets::PageId;
use crate::Web;
use crate::api::Call;
use crate::chrome::Chrome;
use crate::failure::Failure;
use crate::visitor::Visitor;

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/events/{id}/room", get(show).post(join))
        .route("/events/{id}/room/leave", post(leave))
}

/// A buyer's place, as `GET /api/events/{id}/room/me` tells it.
#[derive(Debug, Clone)]
struct PlaceView {
    state: String,
    position: Option<u64>,
    ahead: Option<u64>,
    wait: Option<String>,
    chance: String,
    admitted_until: Option<OffsetDateTime>,
}

impl PlaceView {
    fn from_json(place: &Value) -> Self {
        Self {
            state: place["state"].as_str().unwrap_or_default().to_owned(),
            position: place["position"].as_u64(),
            ahead: place["ahead"].as_u64(),
            wait: wait_words(&place["estimatedWait"]),
            chance: chance_words(place),
            admitted_until: instant(&place["admissionExpiresAt"]),
        }
    }

    fn waiting(&self) -> bool {
        matches!(self.state.as_str(), "prequeue" | "waiting" | "parked")
    }

    fn admitted(&self) -> bool {
        self.state == "admitted"
    }

    fn sold_out(&self) -> bool {
        self.state == "sold_out"
    }

    fn position_words(&self) -> String {
        match (self.state.as_str(), self.position, self.ahead) {
            ("prequeue", _, _) => "You are in. Your place is drawn when the sale opens.".to_owned(),
            (_, Some(position), Some(0)) => format!("You are #{position}: next in"),
            (_, Some(position), Some(ahead)) => {
                format!("You are #{position} — {ahead} ahead of you")
            }
            _ => String::new(),
        }
    }

    fn admitted_until_words(&self) -> String {
        self.admitted_until
            .map(clock_time_seconds)
            .unwrap_or_default()
    }

    fn admitted_until_rfc3339(&self) -> String {
        self.admitted_until.map(rfc3339).unwrap_or_default()
    }

    /// What the place's end means, when it has ended.
    fn ended_words(&self) -> Option<&'static str> {
        match self.state.as_str() {
            "ordered" => Some("You ordered your tickets. See them under My orders."),
            "released" => Some("You are no longer in the waiting room."),
            _ => None,
        }
    }
}

/// The wait as a range in minutes; `None` when there is nothing to wait for.
fn wait_words(wait: &Value) -> Option<String> {
    let low = wait["lowSeconds"].as_u64()?;
    let Some(high) = wait["highSeconds"].as_u64() else {
        return Some(if low < 60 {
            "Estimated wait: not known yet (at least a few seconds)".to_owned()
        } else {
            format!("Estimated wait: at least {} minutes", low.div_ceil(60))
        });
    };
    if high == 0 {
        return None;
    }
    if high < 60 {
        return Some("Estimated wait: under a minute".to_owned());
    }
    let (low, high) = (low / 60, high.div_ceil(60));
    Some(if low == 0 {
        format!("Estimated wait: under a minute to about {high} minutes")
    } else {
        format!("Estimated wait: about {low}–{high} minutes")
    })
}

/// The chance with the numbers behind it.
fn chance_words(place: &Value) -> String {
    let left = place["ticketsLeft"].as_u64().unwrap_or(0);
    let ahead = place["ahead"].as_u64();
    let tickets = if left == 1 { "ticket" } else { "tickets" };
    let numbers = match ahead {
        Some(1) => format!("{left} {tickets} left for 1 person ahead of you"),
        Some(ahead) => format!("{left} {tickets} left for {ahead} people ahead of you"),
        None => format!("{left} {tickets} on sale"),
    };
    match place["chance"].as_str().unwrap_or_default() {
        "likely" => format!("Chance of a ticket: likely ({numbers})"),
        "even" => format!("Chance of a ticket: about even ({numbers})"),
        "unlikely" => format!("Chance of a ticket: unlikely ({numbers})"),
        "sold_out" => "Sold out".to_owned(),
        _ => numbers,
    }
}

/// The room's state in words.
pub(super) fn room_words(room: &Value) -> String {
    let opens = when(room["opensAt"].as_str().unwrap_or_default());
    match room["state"].as_str().unwrap_or_default() {
        "prequeue" => format!(
            "The sale opens {opens}. Everyone who joins before then is given a place at random \
             when it opens: arriving early gains nothing."
        ),
        "open" => "The sale is open: people are let in, in order, as tickets allow.".to_owned(),
        "paused" => "Paused: every ticket left is in someone's basket. If a basket is not paid \
                     for, the next people are let in."
            .to_owned(),
        "sold_out" => "Sold out: every ticket has been sold.".to_owned(),
        _ => "The sale is over.".to_owned(),
    }
}

#[derive(Template)]
#[template(path = "room.html")]
struct RoomPage {
    chrome: Chrome,
    event_id: String,
    event_name: String,
    room_words: String,
    limit: u64,
    place: Option<PlaceView>,
    signed_in: bool,
    commitment: String,
    log_head: String,
    /// The server's clock, for the admission's countdown.
    now: String,
    /// "14:31:05 UTC": when the place shown was read.
    as_of: String,
}

#[derive(Debug, Default, Deserialize)]
struct Shown {
    done: Option<String>,
}

async fn show(
    State(web): State<Web>,
    visitor: Visitor,
    PageId(id): PageId,
    PageQuery(shown): PageQuery<Shown>,
) -> Result<Response, Failure> {
    let next = format!("/events/{id}/room");
    let event = fetch_event(&web, &id).await?;
    let room = web.api.get(&format!("/api/events/{id}/room"), None).await?;
    let room = ok_body(room, &next)?;
    let mut cookies = Vec::new();
    let place = if visitor.signed_in() {
        let reply = web
            .api
            .get(&format!("/api/events/{id}/room/me"), visitor.session())
            .await?;
        cookies = reply.set_cookies();
        match reply.status {
            StatusCode::NOT_FOUND => None,
            _ => Some(PlaceView::from_json(&ok_body(reply, &next)?)),
        }
    } else {
        None
    };
    let notice = match shown.done.as_deref() {
        Some("left") => Some("You left the waiting room".to_owned()),
        _ => None,
    };
    let now = OffsetDateTime::now_utc();
    let page = RoomPage {
        chrome: Chrome::new(format!("Waiting room: {}", event.name), &visitor).with_notice(notice),
        event_id: id,
        event_name: event.name,
        room_words: room_words(&room),
        limit: room["perAccountLimit"].as_u64().unwrap_or(1),
        place,
        signed_in: visitor.signed_in(),
        commitment: room["commitment"].as_str().unwrap_or_default().to_owned(),
        log_head: room["logHead"]["hash"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        now: rfc3339(now),
        as_of: clock_time_seconds(now),
    };
    let mut response = html(StatusCode::OK, &page)?;
    for cookie in cookies {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// `POST /events/{id}/room` → `POST /api/events/{id}/room/join`.
async fn join(
    State(web): State<Web>,
    visitor: Visitor,
    PageId(id): PageId,
) -> Result<Response, Failure> {
    let next = format!("/events/{id}/room");
    require_user(&visitor, &next)?;
    let call = Call {
        session: visitor.session(),
        ..Call::default()
    };
    let reply = web
        .api
        .send(Method::POST, &format!("/api/events/{id}/room/join"), call)
        .await?;
    if !reply.is_success() {
        return Err(Failure::from_reply(&reply, &next));
    }
    Ok(Redirect::to(&next).into_response())
}

/// `POST /events/{id}/room/leave` → `DELETE /api/events/{id}/room/me`.
async fn leave(
    State(web): State<Web>,
    visitor: Visitor,
    PageId(id): PageId,
) -> Result<Response, Failure> {
    let next = format!("/events/{id}/room");
    require_user(&visitor, &next)?;
    let call = Call {
        session: visitor.session(),
        ..Call::default()
    };
    let reply = web
        .api
        .send(Method::DELETE, &format!("/api/events/{id}/room/me"), call)
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
    fn the_wait_is_a_range_or_says_what_is_not_known() {
        let words = |wait: Value| wait_words(&wait);
        assert_eq!(
            words(json!({"lowSeconds": 100, "highSeconds": 600})).as_deref(),
            Some("Estimated wait: about 1–10 minutes")
        );
        assert_eq!(
            words(json!({"lowSeconds": 10, "highSeconds": 40})).as_deref(),
            Some("Estimated wait: under a minute")
        );
        assert_eq!(
            words(json!({"lowSeconds": 300, "highSeconds": null})).as_deref(),
            Some("Estimated wait: at least 5 minutes")
        );
        assert_eq!(words(json!({"lowSeconds": 0, "highSeconds": 0})), None);
    }

    #[test]
    fn the_chance_shows_its_numbers() {
        let place = json!({"chance": "even", "ticketsLeft": 40, "ahead": 55});
        assert_eq!(
            chance_words(&place),
            "Chance of a ticket: about even (40 tickets left for 55 people ahead of you)"
        );
        assert_eq!(chance_words(&json!({"chance": "sold_out"})), "Sold out");
    }
}
