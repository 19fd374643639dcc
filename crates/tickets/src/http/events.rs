//! The `/api/events` routes — the catalogue (CONTRACT.md §11). Thin, like the ticket
//! routes: authenticate, parse, call the service, shape JSON.
//!
//! Creating an event that exists already (same name and venue, trimmed and in any case,
//! same start as an instant) answers 200 with that event instead of 201, and announces
//! nothing: a client retrying a create, or two clients creating the same concert, end up
//! with one event.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use boxoffice_platform::http::{ApiError, ApiJson, AuthUser, ErrorBody, ErrorItem, PathId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::event::{
    CatalogueEventDraft, CatalogueEventError, CatalogueEventId, EventListing, parse_instant,
};
use crate::service::events::{CatalogueError, CatalogueService};
use crate::store::{Catalogued, EventQuery};

pub const TAG: &str = "events";
const DEFAULT_LIMIT: u32 = 20;
const MAX_LIMIT: u32 = 100;

/// The `/api/events` routes, documented.
pub fn router(service: CatalogueService) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(create_event, list_events))
        .routes(routes!(show_event, update_event))
        .with_state(service)
}

/// An event as clients see it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventBody {
    id: String,
    name: String,
    venue: String,
    /// RFC 3339, UTC.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    starts_at: OffsetDateTime,
    description: String,
    /// The creator, who alone may edit it.
    user_id: String,
    version: i64,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    created_at: OffsetDateTime,
    /// Tickets of the event that are available (not held, not sold, not withdrawn), counted
    /// when read.
    tickets_available: u64,
    /// The cheapest of those, major units (`12.5`); `null` when none is available.
    #[schema(required = true)]
    min_price: Option<f64>,
}

impl From<EventListing> for EventBody {
    fn from(listing: EventListing) -> Self {
        let event = listing.event;
        Self {
            id: event.id.to_string(),
            name: event.name,
            venue: event.venue,
            starts_at: event.starts_at,
            description: event.description,
            user_id: event.user_id.to_string(),
            version: event.version,
            created_at: event.created_at,
            tickets_available: listing.tickets_available,
            min_price: listing.min_price.map(|price| price.to_major()),
        }
    }
}

/// What a creator sends to create or edit an event.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventRequest {
    /// 1–200 characters after trimming.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    name: Option<serde_json::Value>,
    /// 1–200 characters after trimming.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    venue: Option<serde_json::Value>,
    /// RFC 3339 with an offset, in the future. Stored and shown in UTC.
    #[serde(default)]
    #[schema(value_type = String, format = DateTime, required = true)]
    starts_at: Option<serde_json::Value>,
    /// Up to 5000 characters.
    #[serde(default)]
    description: Option<String>,
}

impl EventRequest {
    /// Validates the body. Fields are read as JSON values, so a field of the wrong type is
    /// that field's error (as a missing one), not a malformed body.
    fn draft(&self, now: OffsetDateTime) -> Result<CatalogueEventDraft, ApiError> {
        fn text(field: &Option<serde_json::Value>) -> Option<&str> {
            field.as_ref().and_then(serde_json::Value::as_str)
        }
        Ok(CatalogueEventDraft::parse(
            text(&self.name),
            text(&self.venue),
            text(&self.starts_at),
            self.description.as_deref(),
            now,
        )?)
    }
}

/// Catalogue filters. All optional.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventParams {
    /// Name or venue contains this text (case-insensitive).
    q: Option<String>,
    /// Starting at or after (RFC 3339).
    from: Option<String>,
    /// Starting at or before (RFC 3339).
    to: Option<String>,
    /// Page size, 1–100, default 20.
    limit: Option<String>,
    /// 1-based page number.
    page: Option<String>,
}

impl EventParams {
    fn parse(&self, now: OffsetDateTime) -> Result<EventQuery, ApiError> {
        let mut problems = Vec::new();
        let mut instant = |text: &Option<String>, field: &str| {
            let text = text.as_deref()?;
            let at = parse_instant(text);
            if at.is_none() {
                problems.push(ErrorItem::field(
                    field,
                    format!("{field} must be an RFC 3339 date"),
                ));
            }
            at
        };
        let from = instant(&self.from, "from");
        let to = instant(&self.to, "to");
        let limit = match self.limit.as_deref().map(str::parse::<u32>) {
            None => DEFAULT_LIMIT,
            Some(Ok(limit)) if (1..=MAX_LIMIT).contains(&limit) => limit,
            Some(_) => {
                problems.push(ErrorItem::field(
                    "limit",
                    format!("limit must be between 1 and {MAX_LIMIT}"),
                ));
                DEFAULT_LIMIT
            }
        };
        let page = match self.page.as_deref().map(str::parse::<u64>) {
            None => 1,
            Some(Ok(page)) if page >= 1 => page,
            Some(_) => {
                problems.push(ErrorItem::field("page", "page must be 1 or more"));
                1
            }
        };
        if !problems.is_empty() {
            return Err(ApiError::Validation(problems));
        }
        Ok(EventQuery {
            after: now,
            text: self
                .q
                .as_deref()
                .map(str::trim)
                .filter(|q| !q.is_empty())
                .map(str::to_owned),
            from,
            to,
            limit,
            offset: (page - 1).saturating_mul(u64::from(limit)),
        })
    }
}

/// Add an event to the catalogue; the same name, venue and start returns the existing one.
#[utoipa::path(
    post, path = "/api/events", tag = TAG,
    request_body = EventRequest,
    responses(
        (status = 201, description = "Created; `event:created` published", body = EventBody),
        (status = 200, description = "An event with the same name and venue (trimmed, any \
            case) and start (as an instant) exists: that event; nothing published", body = EventBody),
        (status = 400, description = "`Name is required`, `Venue is required`, `StartsAt must \
            be a future date`, …", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
async fn create_event(
    State(service): State<CatalogueService>,
    user: AuthUser,
    ApiJson(body): ApiJson<EventRequest>,
) -> Result<Response, ApiError> {
    let draft = body.draft(service.now())?;
    let (status, listing) = match service.create(user.id(), draft).await? {
        Catalogued::Created(listing) => (StatusCode::CREATED, listing),
        Catalogued::Existing(listing) => (StatusCode::OK, listing),
    };
    Ok((status, axum::Json(EventBody::from(listing))).into_response())
}

/// Events that have not started, soonest first. The total number matching is in
/// `X-Total-Count`.
#[utoipa::path(
    get, path = "/api/events", tag = TAG,
    params(EventParams),
    responses(
        (status = 200, description = "One page of events", body = [EventBody],
         headers(("x-total-count" = u64, description = "events matching the filters"))),
        (status = 400, description = "A bad filter", body = ErrorBody),
    )
)]
async fn list_events(
    State(service): State<CatalogueService>,
    params: Result<Query<EventParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params.map_err(|_| ApiError::bad_request("Invalid query string"))?;
    let (events, total) = service.list(&params.parse(service.now())?).await?;
    let body: Vec<EventBody> = events.into_iter().map(EventBody::from).collect();
    let mut headers = HeaderMap::new();
    headers.insert("x-total-count", HeaderValue::from(total));
    Ok((headers, axum::Json(body)).into_response())
}

/// One event, started or not.
#[utoipa::path(
    get, path = "/api/events/{id}", tag = TAG,
    params(("id" = String, Path, description = "Event id")),
    responses(
        (status = 200, description = "The event", body = EventBody),
        (status = 404, description = "No such event", body = ErrorBody),
    )
)]
async fn show_event(
    State(service): State<CatalogueService>,
    PathId(id): PathId,
) -> Result<axum::Json<EventBody>, ApiError> {
    let listing = service.get(CatalogueEventId(id)).await?;
    Ok(axum::Json(listing.into()))
}

/// Edit an event: only its creator.
#[utoipa::path(
    put, path = "/api/events/{id}", tag = TAG,
    params(("id" = String, Path, description = "Event id")),
    request_body = EventRequest,
    responses(
        (status = 200, description = "Edited; version + 1; `event:updated` published", body = EventBody),
        (status = 400, description = "A validation error as on create, or `Event already \
            exists` (field `name`) when another event has the same name, venue and start", body = ErrorBody),
        (status = 401, description = "Not signed in, or not the creator", body = ErrorBody),
        (status = 404, description = "No such event", body = ErrorBody),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
async fn update_event(
    State(service): State<CatalogueService>,
    user: AuthUser,
    PathId(id): PathId,
    ApiJson(body): ApiJson<EventRequest>,
) -> Result<axum::Json<EventBody>, ApiError> {
    let (user, id) = (user.id(), CatalogueEventId(id));
    // Existence and ownership come before validation.
    service.owned(user, id).await?;
    let draft = body.draft(service.now())?;
    let listing = service.update(user, id, draft).await?;
    Ok(axum::Json(listing.into()))
}

impl From<CatalogueEventError> for ApiError {
    /// Field errors, or 401 for someone else's event.
    fn from(err: CatalogueEventError) -> Self {
        match err {
            CatalogueEventError::Invalid(problems) => Self::Validation(
                problems
                    .into_iter()
                    .map(|(field, message)| ErrorItem::field(field, message))
                    .collect(),
            ),
            CatalogueEventError::NotCreator => Self::Unauthorized,
        }
    }
}

impl From<CatalogueError> for ApiError {
    fn from(err: CatalogueError) -> Self {
        match err {
            CatalogueError::NotFound => Self::NotFound,
            CatalogueError::Rule(rule) => rule.into(),
            CatalogueError::Internal(e) => Self::Internal(e),
        }
    }
}
