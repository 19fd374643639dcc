//! The live feed of a place in a room (Server-Sent Events). Every feed of a room reads
//! the snapshot its last tick published — one computation for all watchers — and sends
//! only what changed for its own place. An open feed is a sign of life.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use boxoffice_common::Id;
use boxoffice_platform::http::{ApiError, AuthUser, ErrorBody, PathId};
use futures::Stream;
use serde::Serialize;
use tokio::sync::watch;

use super::engine::{PlaceState, RoomState};
use super::http::{HeadBody, WaitBody};
use super::service::{Chance, Granted, Rooms, Snapshot, estimate};
use crate::http::OpenStream;

/// The `room-state` event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct RoomStateEvent {
    state: PlaceState,
    room_state: RoomState,
    position: Option<u64>,
    ahead: Option<u64>,
    estimated_wait: WaitBody,
    chance: Chance,
    tickets_left: u32,
    log_head: HeadBody,
}

/// Live updates of your place in an event's waiting room (Server-Sent Events):
/// `room-state` `{state, roomState, position, ahead, estimatedWait, chance, ticketsLeft,
/// logHead, asOf}` whenever any of it changes (`asOf`: when the room computed it), `room-admitted` `{admissionToken, expiresAt}`
/// when your turn to buy comes, and `room-sold-out` `{}` when nothing is left — then the
/// stream ends. The open stream keeps your place alive.
#[utoipa::path(
    get, path = "/api/events/{id}/room/events", tag = super::http::TAG,
    params(("id" = String, Path, description = "Event id")),
    responses(
        (status = 200, description = "An event stream", content_type = "text/event-stream", body = String),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No room, or you never joined it", body = ErrorBody),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub async fn follow_room(
    State(rooms): State<Rooms>,
    user: AuthUser,
    PathId(event): PathId,
) -> Result<Response, ApiError> {
    let (pid, snapshots) = rooms.follow(user.id().get(), event)?;
    rooms.feed_alive(event, &pid);
    let feed = Feed {
        rooms,
        event,
        pid,
        snapshots,
        last: None,
        admitted: None,
        first: true,
        renewed: tokio::time::Instant::now(),
        done: false,
        pending: Vec::new(),
        _open: OpenStream::new(),
    };
    Ok((
        [(
            axum::http::HeaderName::from_static("x-accel-buffering"),
            axum::http::HeaderValue::from_static("no"),
        )],
        Sse::new(feed.into_stream()).keep_alive(KeepAlive::default()),
    )
        .into_response())
}

/// Unix milliseconds in RFC 3339.
fn as_of(millis: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .ok()
        .and_then(|at| {
            at.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

struct Feed {
    rooms: Rooms,
    event: Id,
    pid: String,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    last: Option<RoomStateEvent>,
    admitted: Option<Granted>,
    first: bool,
    done: bool,
    /// Events to send, last first.
    pending: Vec<Event>,
    /// When the feed last renewed the place's lease.
    renewed: tokio::time::Instant,
    _open: OpenStream,
}

impl Feed {
    fn into_stream(self) -> impl Stream<Item = Result<Event, Infallible>> {
        futures::stream::unfold(self, |mut feed| async move {
            loop {
                if let Some(event) = feed.pending.pop() {
                    return Some((Ok(event), feed));
                }
                if feed.done {
                    return None;
                }
                if !feed.first && !feed.wait().await {
                    return None;
                }
                feed.first = false;
                feed.look();
            }
        })
    }

    /// Until the room published a new snapshot (every tick), renewing the place's lease
    /// whenever a third of it has passed since the last renewal: the room publishes more
    /// often than that, so the renewal cannot wait for a quiet moment. `false` when the
    /// room is gone.
    async fn wait(&mut self) -> bool {
        let lease = self.rooms.settings().config.lease_ms.max(3_000) as u64;
        let renew = Duration::from_millis(lease / 3);
        let due = self.renewed + renew;
        let changed = tokio::select! {
            changed = self.snapshots.changed() => changed.is_ok(),
            () = tokio::time::sleep_until(due) => true,
        };
        if tokio::time::Instant::now() >= due {
            self.rooms.feed_alive(self.event, &self.pid);
            self.renewed = tokio::time::Instant::now();
        }
        changed
    }

    fn look(&mut self) {
        let snapshot = Arc::clone(&self.snapshots.borrow_and_update());
        let Some(view) = snapshot.views.get(&self.pid) else {
            // Not in the last tick yet (joined moments ago): the next one has it.
            return;
        };
        let estimate = estimate(view, &snapshot, &self.rooms.settings());
        let state = RoomStateEvent {
            state: view.state,
            room_state: snapshot.state,
            position: view.position,
            ahead: view.ahead,
            estimated_wait: WaitBody::new(estimate.low_seconds, estimate.high_seconds),
            chance: estimate.chance,
            tickets_left: estimate.tickets_left,
            log_head: snapshot.head.clone().into(),
        };
        let mut events = Vec::new();
        if self.last.as_ref() != Some(&state) {
            // When the room computed it, so a client can tell how fresh it is.
            let mut data = serde_json::to_value(&state).unwrap_or_default();
            data["asOf"] = serde_json::Value::from(as_of(snapshot.at));
            if let Ok(event) = Event::default().event("room-state").json_data(data) {
                events.push(event);
            }
        }
        if let Some(granted) = snapshot.admissions.get(&self.pid)
            && self.admitted.as_ref() != Some(granted)
        {
            let data = serde_json::json!({
                "admissionToken": granted.token,
                "expiresAt": granted.expires_at
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
            });
            if let Ok(event) = Event::default().event("room-admitted").json_data(data) {
                events.push(event);
            }
            self.admitted = Some(granted.clone());
        }
        if estimate.chance == Chance::SoldOut && view.state != PlaceState::Admitted {
            if let Ok(event) = Event::default()
                .event("room-sold-out")
                .json_data(serde_json::json!({}))
            {
                events.push(event);
            }
            self.done = true;
        }
        self.last = Some(state);
        events.reverse();
        self.pending = events;
    }
}
