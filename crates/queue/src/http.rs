//! The `/api/queue` routes, and the live feed of a buyer's place (Server-Sent Events).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use boxoffice_common::{TicketId, UserId};
use boxoffice_platform::http::{ApiError, AuthUser, ErrorBody, PathId};
use boxoffice_platform::metrics;
use boxoffice_platform::telemetry::names::SSE_CONNECTIONS;
use futures::Stream;
use serde::Serialize;
use time::OffsetDateTime;
use tokio::sync::broadcast;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::{Place, QueueError};
use crate::service::{QueueService, QueueServiceError};

pub const TAG: &str = "queue";

/// How often a live feed looks again without being told (a missed notification, the
/// estimate moving as time passes).
const REFRESH: Duration = Duration::from_secs(5);
/// The least time between two looks of one live feed.
const MIN_LOOK_INTERVAL: Duration = Duration::from_millis(250);

pub fn router(service: QueueService) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(join_line, show_place, leave_line))
        .routes(routes!(follow_place))
        .routes(routes!(show_line))
        .with_state(service)
}

/// A buyer's place in a ticket's line.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlaceBody {
    /// 1 is the head of the line.
    position: u64,
    total_in_queue: u64,
    /// If everyone ahead lets their turn pass: the rest of the current hold or turn, then
    /// one full turn per buyer ahead. 0 during your turn.
    estimated_wait_seconds: u64,
    /// If everyone ahead passes as soon as their turn starts: the rest of the current hold
    /// or turn. With `estimatedWaitSeconds`, the range to show — never one precise number.
    earliest_wait_seconds: u64,
    /// While it is your turn: until when only you can order the ticket; otherwise `null`.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    turn_expires_at: Option<OffsetDateTime>,
}

impl From<Place> for PlaceBody {
    fn from(place: Place) -> Self {
        Self {
            position: place.position,
            total_in_queue: place.total,
            estimated_wait_seconds: place.estimated_wait_seconds,
            earliest_wait_seconds: place.earliest_wait_seconds,
            turn_expires_at: place.turn_expires_at,
        }
    }
}

/// Join the line for a ticket someone else holds. Joining twice keeps your first place.
///
/// When the hold lapses, the head of the line gets an exclusive turn (`QUEUE_TURN_SECONDS`,
/// default 2 min): only that buyer can order the ticket until the turn ends; then the next.
#[utoipa::path(
    post, path = "/api/queue/{ticketId}", tag = TAG,
    params(("ticketId" = String, Path, description = "Ticket id")),
    responses(
        (status = 202, description = "In line", body = PlaceBody),
        (status = 400, description = "`Ticket is available; order it directly`, `Ticket is already sold`, `Cannot queue for your own ticket`, `You already hold this ticket`", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such ticket. A ticket listed moments ago is waited for (up to `FRESH_ID_WAIT_SECONDS` after its creation) rather than answered 404", body = ErrorBody),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
async fn join_line(
    State(service): State<QueueService>,
    user: AuthUser,
    PathId(ticket): PathId,
) -> Result<Response, ApiError> {
    let place = service.join(user.id(), TicketId(ticket)).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(PlaceBody::from(place))).into_response())
}

/// Your place in a ticket's line.
#[utoipa::path(
    get, path = "/api/queue/{ticketId}", tag = TAG,
    params(("ticketId" = String, Path, description = "Ticket id")),
    responses(
        (status = 200, description = "Your place", body = PlaceBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "You are not in this ticket's line", body = ErrorBody),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
async fn show_place(
    State(service): State<QueueService>,
    user: AuthUser,
    PathId(ticket): PathId,
) -> Result<axum::Json<PlaceBody>, ApiError> {
    let place = service
        .status(user.id(), TicketId(ticket))
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(axum::Json(place.into()))
}

/// Leave a ticket's line (also fine if you are not in it). If it was your turn, the next
/// buyer's begins.
#[utoipa::path(
    delete, path = "/api/queue/{ticketId}", tag = TAG,
    params(("ticketId" = String, Path, description = "Ticket id")),
    responses(
        (status = 204, description = "Not in the line any more"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "Malformed ticket id", body = ErrorBody),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
async fn leave_line(
    State(service): State<QueueService>,
    user: AuthUser,
    PathId(ticket): PathId,
) -> Result<StatusCode, ApiError> {
    service.leave(user.id(), TicketId(ticket)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A ticket's line as anyone may see it: how many wait, and until when the ticket is held
/// or the head of the line has their turn — what a ticket's page needs to say "held until
/// about 14:32 — you'd be #3". Names nobody.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LineBody {
    total_in_queue: u64,
    /// When the current hold ends unless it is paid (extended while a payment runs);
    /// `null` when nobody holds the ticket.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    held_until: Option<OffsetDateTime>,
    /// When the running turn of the head of the line ends; `null` when none runs.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    turn_ends_at: Option<OffsetDateTime>,
}

/// A ticket's line: its length and the running hold or turn. No sign-in needed; an
/// unknown ticket has an empty line.
#[utoipa::path(
    get, path = "/api/queue/{ticketId}/line", tag = TAG,
    params(("ticketId" = String, Path, description = "Ticket id")),
    responses(
        (status = 200, description = "The line", body = LineBody),
        (status = 404, description = "Malformed ticket id", body = ErrorBody),
    )
)]
async fn show_line(
    State(service): State<QueueService>,
    PathId(ticket): PathId,
) -> Result<axum::Json<LineBody>, ApiError> {
    // Nobody's place is asked for: the nil id never waits in a line.
    let snapshot = service
        .store()
        .snapshot(ticket, boxoffice_common::Id::nil())
        .await?;
    let now = service.clock().now();
    let state = snapshot.state;
    Ok(axum::Json(LineBody {
        total_in_queue: snapshot.len,
        held_until: state
            .holder
            .map(|holder| holder.expires_at)
            .filter(|at| *at > now),
        turn_ends_at: state
            .turn
            .map(|turn| turn.expires_at)
            .filter(|at| *at > now),
    }))
}

/// Live updates of your place (Server-Sent Events): `queue-update` `{position,
/// totalInQueue, estimatedWaitSeconds, turnExpiresAt}` whenever your place or the line's
/// length changes, `queue-turn` `{ticketId, turnExpiresAt}` when your turn begins, and
/// `ticket-unavailable` `{ticketId}` when the ticket is sold or withdrawn. The stream ends
/// after `ticket-unavailable` or when you are no longer in the line (you left, or you
/// ordered the ticket).
#[utoipa::path(
    get, path = "/api/queue/{ticketId}/events", tag = TAG,
    params(("ticketId" = String, Path, description = "Ticket id")),
    responses(
        (status = 200, description = "An event stream", content_type = "text/event-stream", body = String),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "You are not in this ticket's line", body = ErrorBody),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
async fn follow_place(
    State(service): State<QueueService>,
    user: AuthUser,
    PathId(ticket): PathId,
) -> Result<Response, ApiError> {
    let (user, ticket) = (user.id(), TicketId(ticket));
    // Subscribe before the first look, so no change between the two is missed.
    let changes = service.store().changes();
    if service.status(user, ticket).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    let feed = Feed {
        service,
        user,
        ticket,
        changes,
        last: None,
        pending: VecDeque::new(),
        first: true,
        done: false,
        _open: OpenStream::new(),
    };
    // A proxy that buffers responses (nginx does by default) would hold the events back:
    // `X-Accel-Buffering: no` asks it to pass them on as they come.
    Ok((
        [(
            axum::http::HeaderName::from_static("x-accel-buffering"),
            axum::http::HeaderValue::from_static("no"),
        )],
        Sse::new(feed.into_stream()).keep_alive(KeepAlive::default()),
    )
        .into_response())
}

/// One buyer's live feed: re-reads their place whenever the ticket's line changes and
/// emits what is new.
struct Feed {
    service: QueueService,
    user: UserId,
    ticket: TicketId,
    changes: broadcast::Receiver<boxoffice_common::Id>,
    last: Option<Place>,
    pending: VecDeque<Event>,
    first: bool,
    done: bool,
    /// Counts the stream in `boxoffice_sse_connections` while it is open.
    _open: OpenStream,
}

/// One open live-update stream: counted up when made, down when dropped (the client went
/// away or the stream ended).
pub(crate) struct OpenStream;

impl OpenStream {
    pub(crate) fn new() -> Self {
        metrics::gauge!(SSE_CONNECTIONS).increment(1.0);
        Self
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        metrics::gauge!(SSE_CONNECTIONS).decrement(1.0);
    }
}

impl Feed {
    fn into_stream(self) -> impl Stream<Item = Result<Event, Infallible>> {
        futures::stream::unfold(self, |mut feed| async move {
            loop {
                if let Some(event) = feed.pending.pop_front() {
                    return Some((Ok(event), feed));
                }
                if feed.done {
                    return None;
                }
                if !feed.first {
                    feed.wait_for_change().await;
                }
                feed.first = false;
                if let Err(err) = feed.look().await {
                    tracing::warn!(
                        error = format!("{err:#}"),
                        "queue feed could not read the line"
                    );
                }
            }
        })
    }

    /// Until this ticket's line changed, or `REFRESH` passed — and at least
    /// `MIN_LOOK_INTERVAL` after the last look. Changes that arrive meanwhile are folded into
    /// one look, so a line with thousands of followers and thousands of joins costs each
    /// follower a bounded number of reads, not one per change.
    async fn wait_for_change(&mut self) {
        tokio::time::sleep(MIN_LOOK_INTERVAL).await;
        let deadline = tokio::time::sleep(REFRESH);
        tokio::pin!(deadline);
        loop {
            // Already told: look now.
            match self.changes.try_recv() {
                Ok(id) if id == self.ticket.get() => return,
                Ok(_) => continue,
                Err(broadcast::error::TryRecvError::Lagged(_)) => return,
                Err(
                    broadcast::error::TryRecvError::Empty | broadcast::error::TryRecvError::Closed,
                ) => {}
            }
            tokio::select! {
                () = &mut deadline => return,
                changed = self.changes.recv() => match changed {
                    Ok(id) if id == self.ticket.get() => return,
                    Ok(_) => {}
                    // Behind: something may have changed; look.
                    Err(broadcast::error::RecvError::Lagged(_)) => return,
                    Err(broadcast::error::RecvError::Closed) => {
                        deadline.as_mut().await;
                        return;
                    }
                },
            }
        }
    }

    async fn look(&mut self) -> anyhow::Result<()> {
        let snapshot = self
            .service
            .store()
            .snapshot(self.ticket.get(), self.user.get())
            .await?;
        if snapshot.state.gone.is_some() {
            self.pending.push_back(
                Event::default()
                    .event("ticket-unavailable")
                    .json_data(serde_json::json!({ "ticketId": self.ticket.to_string() }))?,
            );
            self.done = true;
            return Ok(());
        }
        let Some(place) = self.service.place_in(&snapshot, self.user) else {
            self.done = true;
            return Ok(());
        };
        let last = self.last.replace(place);
        if let Some(turn_expires_at) = place.turn_expires_at
            && last.and_then(|l| l.turn_expires_at) != Some(turn_expires_at)
        {
            self.pending
                .push_back(
                    Event::default()
                        .event("queue-turn")
                        .json_data(serde_json::json!({
                            "ticketId": self.ticket.to_string(),
                            "turnExpiresAt": turn_expires_at
                                .format(&time::format_description::well_known::Rfc3339)?,
                        }))?,
                );
        }
        let moved = last.is_none_or(|l| {
            (l.position, l.total, l.turn_expires_at)
                != (place.position, place.total, place.turn_expires_at)
        });
        if moved {
            self.pending.push_back(
                Event::default()
                    .event("queue-update")
                    .json_data(PlaceBody::from(place))?,
            );
        }
        Ok(())
    }
}

/// How each refusal is answered; handlers just use `?`.
impl From<QueueServiceError> for ApiError {
    fn from(err: QueueServiceError) -> Self {
        match err {
            QueueServiceError::Refused(QueueError::NotFound) => ApiError::NotFound,
            QueueServiceError::Refused(QueueError::Refused(message)) => {
                ApiError::bad_request(message)
            }
            QueueServiceError::Internal(e) => ApiError::Internal(e),
        }
    }
}
