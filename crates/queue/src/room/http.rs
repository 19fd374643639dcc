//! The `/api/events/{id}/room` routes (CONTRACT §12): set up, join, look, heartbeat,
//! leave, the live feed, and the fairness log.

use std::time::Duration;

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use boxoffice_platform::http::{ApiError, ApiJson, AuthUser, ErrorBody, PathId, SessionKeys};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::engine::{PlaceState, RoomState};
use super::feed;
use super::log::Head;
use super::service::{Chance, Estimate, Place, RoomError, RoomInfo, Rooms};

pub const TAG: &str = "rooms";

/// The per-account limit of a room set up without one.
pub const DEFAULT_PER_ACCOUNT_LIMIT: u32 = 4;

/// The cookie an admission to event `id`'s room travels in (the orders service reads it).
pub fn admission_cookie_name(event: boxoffice_common::Id) -> String {
    format!("admission-{event}")
}

/// What a request for a room between two runners is told (with `Retry-After`).
pub const MOVED: &str = "This waiting room is moving to another server; try again in a moment";

pub fn router(rooms: Rooms) -> OpenApiRouter {
    let forwarding = rooms.clone();
    OpenApiRouter::new()
        .routes(routes!(set_up_room, show_room))
        .routes(routes!(join_room))
        .routes(routes!(show_my_place, leave_room))
        .routes(routes!(heartbeat))
        .routes(routes!(feed::follow_room))
        .routes(routes!(export_log))
        .routes(routes!(log_head))
        .route_layer(axum::middleware::from_fn_with_state(
            forwarding,
            super::forward::to_runner,
        ))
        .with_state(rooms)
}

/// The hash-chain head of a room's fairness log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct HeadBody {
    seq: u64,
    hash: String,
}

impl From<Head> for HeadBody {
    fn from(head: Head) -> Self {
        Self {
            seq: head.seq,
            hash: head.hash,
        }
    }
}

/// A room as anyone may see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoomBody {
    event_id: String,
    /// `prequeue` (joinable; places are shuffled at `opensAt`), `open`, `paused` (every
    /// free ticket is held), `sold_out` or `closed` (the event started).
    #[schema(value_type = String)]
    state: RoomState,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    opens_at: OffsetDateTime,
    per_account_limit: u32,
    /// SHA-256 of the secret shuffle seed, published before anyone joins; the seed is in
    /// the log's `reveal` entry after the sale.
    commitment: String,
    log_head: HeadBody,
}

impl From<RoomInfo> for RoomBody {
    fn from(info: RoomInfo) -> Self {
        Self {
            event_id: info.event_id.to_string(),
            state: info.state,
            opens_at: from_millis(info.opens_at),
            per_account_limit: info.per_account_limit,
            commitment: info.commitment,
            log_head: info.head.into(),
        }
    }
}

fn from_millis(at: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(at) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A wait as a range, never one number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WaitBody {
    low_seconds: Option<u64>,
    /// `null` until the room has admitted someone (no pace measured yet).
    high_seconds: Option<u64>,
}

/// Your place in a room, and what it means.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlaceBody {
    /// `prequeue`, `waiting`, `parked` (no sign of life; your rank is kept for
    /// `ROOM_GRACE_SECONDS`), `admitted`, `ordered`, `released` or `sold_out`.
    #[schema(value_type = String)]
    state: PlaceState,
    /// 1 is next. `null` before the opening (the prequeue is shuffled then) and once you
    /// are no longer waiting.
    position: Option<u64>,
    /// Places still waiting ahead of yours.
    ahead: Option<u64>,
    estimated_wait: WaitBody,
    /// `likely`, `even`, `unlikely` or `sold_out`: tickets left against the people ahead
    /// who are expected to buy.
    #[schema(value_type = String)]
    chance: Chance,
    /// The number behind the chance: tickets not yet sold (free, or held by unpaid
    /// orders).
    tickets_left: u32,
    /// Your pseudonym in the room's fairness log (nobody else can work it out).
    pid: String,
    #[schema(value_type = String)]
    room_state: RoomState,
    log_head: HeadBody,
    /// While admitted: the token `POST /api/orders` needs (also set as the
    /// `admission-{eventId}` cookie).
    admission_token: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    admission_expires_at: Option<OffsetDateTime>,
}

impl WaitBody {
    pub fn new(low_seconds: Option<u64>, high_seconds: Option<u64>) -> Self {
        Self {
            low_seconds,
            high_seconds,
        }
    }
}

impl PlaceBody {
    pub fn new(place: Place) -> Self {
        let Estimate {
            low_seconds,
            high_seconds,
            chance,
            tickets_left,
        } = place.estimate;
        Self {
            state: place.view.state,
            position: place.view.position,
            ahead: place.view.ahead,
            estimated_wait: WaitBody {
                low_seconds,
                high_seconds,
            },
            chance,
            tickets_left,
            pid: place.pid,
            room_state: place.room_state,
            log_head: place.head.into(),
            admission_token: place.admission.as_ref().map(|a| a.token.clone()),
            admission_expires_at: place.admission.map(|a| a.expires_at),
        }
    }
}

/// How each refusal is answered; handlers just use `?`.
impl From<RoomError> for ApiError {
    fn from(err: RoomError) -> Self {
        match err {
            RoomError::NotFound => ApiError::NotFound,
            RoomError::NotCreator => ApiError::Unauthorized,
            RoomError::Invalid { field, message } => ApiError::invalid(field, message),
            RoomError::Moved => ApiError::Status {
                status: StatusCode::SERVICE_UNAVAILABLE,
                message: MOVED.to_owned(),
            },
            RoomError::Internal(e) => ApiError::Internal(e),
        }
    }
}

/// What `PUT /api/events/{id}/room` takes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SetUpRoomRequest {
    /// When the prequeue is shuffled and admissions begin (RFC 3339, in the future,
    /// before the event starts).
    #[serde(default)]
    #[schema(value_type = String, format = DateTime, required = true)]
    opens_at: Option<serde_json::Value>,
    /// Most tickets one account may hold for the event while the room is open (default
    /// 4).
    #[serde(default)]
    #[schema(value_type = Option<u32>, minimum = 1)]
    per_account_limit: Option<serde_json::Value>,
}

/// Put a waiting room in front of your event's tickets, or change its opening (until it
/// happened) or its per-account limit.
///
/// From now until the sale ends (sold out, or the event starts), orders for the event's
/// tickets need an admission from the room. Buyers may join at once (the prequeue); at
/// `opensAt` the prequeue is shuffled by a seed committed to now (`commitment`), later
/// joiners line up behind in arrival order, and places are admitted as stock allows.
#[utoipa::path(
    put, path = "/api/events/{id}/room", tag = TAG,
    params(("id" = String, Path, description = "Event id")),
    request_body = SetUpRoomRequest,
    responses(
        (status = 200, description = "The room", body = RoomBody),
        (status = 400, description = "`OpensAt must be provided`, `OpensAt must be a date and time (RFC 3339)`, `OpensAt must be in the future`, `OpensAt must be before the event starts`, `The room is open; its opening cannot move`, `The sale of this room is over`, `PerAccountLimit must be a whole number of at least 1`, each with its `field`", body = ErrorBody),
        (status = 401, description = "Not signed in, or not the event's creator", body = ErrorBody),
        (status = 404, description = "No such event", body = ErrorBody),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
async fn set_up_room(
    State(rooms): State<Rooms>,
    user: AuthUser,
    PathId(event): PathId,
    ApiJson(body): ApiJson<SetUpRoomRequest>,
) -> Result<axum::Json<RoomBody>, ApiError> {
    let opens_at = match &body.opens_at {
        None | Some(serde_json::Value::Null) => {
            return Err(ApiError::invalid("opensAt", "OpensAt must be provided"));
        }
        Some(value) => value
            .as_str()
            .and_then(|text| OffsetDateTime::parse(text.trim(), &Rfc3339).ok())
            .ok_or_else(|| {
                ApiError::invalid("opensAt", "OpensAt must be a date and time (RFC 3339)")
            })?,
    };
    let limit = match &body.per_account_limit {
        None | Some(serde_json::Value::Null) => DEFAULT_PER_ACCOUNT_LIMIT,
        // 2.0 is a whole number too, as JSON Schema's `integer` has it.
        Some(value) => value
            .as_u64()
            .or_else(|| {
                value
                    .as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= f64::from(u32::MAX))
                    .map(|f| f as u64)
            })
            .and_then(|n| u32::try_from(n).ok())
            .filter(|&n| n >= 1)
            .ok_or_else(|| {
                ApiError::invalid(
                    "perAccountLimit",
                    "PerAccountLimit must be a whole number of at least 1",
                )
            })?,
    };
    let info = rooms
        .set_up(user.id().get(), event, opens_at, limit)
        .await?;
    Ok(axum::Json(info.into()))
}

/// An event's waiting room, if it has one. No sign-in needed.
#[utoipa::path(
    get, path = "/api/events/{id}/room", tag = TAG,
    params(("id" = String, Path, description = "Event id")),
    responses(
        (status = 200, description = "The room", body = RoomBody),
        (status = 404, description = "The event has no room", body = ErrorBody),
    )
)]
async fn show_room(
    State(rooms): State<Rooms>,
    PathId(event): PathId,
) -> Result<axum::Json<RoomBody>, ApiError> {
    let info = rooms.info(event).ok_or(ApiError::NotFound)?;
    Ok(axum::Json(info.into()))
}

/// The answer for a place: with its admission as a cookie too, so a browser's order
/// carries it without script.
fn place_response(
    status: StatusCode,
    place: Place,
    event: boxoffice_common::Id,
    keys: &SessionKeys,
    headers: &HeaderMap,
) -> Response {
    let cookie = place.admission.as_ref().map(|admission| {
        let left = (admission.expires_at - OffsetDateTime::now_utc())
            .whole_seconds()
            .max(1);
        keys.cookie(
            &admission_cookie_name(event),
            &admission.token,
            Duration::from_secs(left as u64),
            headers,
        )
    });
    let mut response = (status, axum::Json(PlaceBody::new(place))).into_response();
    if let Some(value) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// Join an event's waiting room. Joining again returns the same place (and counts as a
/// sign of life).
#[utoipa::path(
    post, path = "/api/events/{id}/room/join", tag = TAG,
    params(("id" = String, Path, description = "Event id")),
    responses(
        (status = 202, description = "Your place", body = PlaceBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "The event has no room", body = ErrorBody),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
async fn join_room(
    State(rooms): State<Rooms>,
    Extension(keys): Extension<SessionKeys>,
    headers: HeaderMap,
    user: AuthUser,
    PathId(event): PathId,
) -> Result<Response, ApiError> {
    let place = rooms.join(user.id().get(), event).await?;
    Ok(place_response(
        StatusCode::ACCEPTED,
        place,
        event,
        &keys,
        &headers,
    ))
}

/// Your place in an event's waiting room (a page load: also a sign of life).
#[utoipa::path(
    get, path = "/api/events/{id}/room/me", tag = TAG,
    params(("id" = String, Path, description = "Event id")),
    responses(
        (status = 200, description = "Your place", body = PlaceBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No room, or you never joined it", body = ErrorBody),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
async fn show_my_place(
    State(rooms): State<Rooms>,
    Extension(keys): Extension<SessionKeys>,
    headers: HeaderMap,
    user: AuthUser,
    PathId(event): PathId,
) -> Result<Response, ApiError> {
    let place = rooms.touch(user.id().get(), event).await?;
    Ok(place_response(
        StatusCode::OK,
        place,
        event,
        &keys,
        &headers,
    ))
}

/// A sign of life for your place: keeps it from being parked.
#[utoipa::path(
    post, path = "/api/events/{id}/room/heartbeat", tag = TAG,
    params(("id" = String, Path, description = "Event id")),
    responses(
        (status = 200, description = "Your place", body = PlaceBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No room, or you never joined it", body = ErrorBody),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
async fn heartbeat(
    state: State<Rooms>,
    keys: Extension<SessionKeys>,
    headers: HeaderMap,
    user: AuthUser,
    event: PathId,
) -> Result<Response, ApiError> {
    show_my_place(state, keys, headers, user, event).await
}

/// Leave an event's waiting room (fine if you were not in it). An unused admission is
/// given back.
#[utoipa::path(
    delete, path = "/api/events/{id}/room/me", tag = TAG,
    params(("id" = String, Path, description = "Event id")),
    responses(
        (status = 204, description = "Not in the room any more"),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "The event has no room", body = ErrorBody),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
async fn leave_room(
    State(rooms): State<Rooms>,
    user: AuthUser,
    PathId(event): PathId,
) -> Result<StatusCode, ApiError> {
    rooms.leave(user.id().get(), event).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The room's fairness log: one JSON entry per line, hash-chained (`prev`, `hash`),
/// buyers only by pseudonym. Save it and run `boxoffice verify-room <file>` to check the
/// chain, the shuffle (once the seed is revealed) and that nobody was passed over.
#[utoipa::path(
    get, path = "/api/events/{id}/room/log", tag = TAG,
    params(("id" = String, Path, description = "Event id")),
    responses(
        (status = 200, description = "The log", content_type = "application/x-ndjson", body = String),
        (status = 404, description = "The event has no room", body = ErrorBody),
    )
)]
async fn export_log(
    State(rooms): State<Rooms>,
    PathId(event): PathId,
) -> Result<Response, ApiError> {
    let lines = rooms.log_lines(event).await?;
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], lines).into_response())
}

/// The newest entry of the room's fairness log: what every `room-state` also carries.
#[utoipa::path(
    get, path = "/api/events/{id}/room/log/head", tag = TAG,
    params(("id" = String, Path, description = "Event id")),
    responses(
        (status = 200, description = "The head", body = HeadBody),
        (status = 404, description = "The event has no room", body = ErrorBody),
    )
)]
async fn log_head(
    State(rooms): State<Rooms>,
    PathId(event): PathId,
) -> Result<axum::Json<HeadBody>, ApiError> {
    let info = rooms.info(event).ok_or(ApiError::NotFound)?;
    Ok(axum::Json(info.head.into()))
}
