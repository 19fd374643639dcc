//! The `/api/tickets` routes. Thin: authenticate, parse, call the service, shape JSON.
//! The catalogue's `/api/events` routes are in [`events`]; the listing's query
//! parameters in `ticket_query`.

pub mod events;
mod ticket_query;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use boxoffice_common::TicketId;
use boxoffice_common::money::MajorUnits;
use boxoffice_platform::http::{ApiError, ApiJson, AuthUser, ErrorBody, ErrorItem, PathId};
use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa::openapi::schema::{
    KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, Type,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use self::ticket_query::ListParams;
use crate::domain::{Patch, Ticket, TicketError, TicketInput};
use crate::service::events::CatalogueService;
use crate::service::{TicketsError, TicketsService};

pub const TAG: &str = "tickets";

/// The `/api/tickets` and `/api/events` routes, documented.
pub fn router(tickets: TicketsService, catalogue: CatalogueService) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(create_ticket, list_tickets))
        .routes(routes!(show_ticket, update_ticket, delete_ticket))
        .with_state(tickets)
        .merge(events::router(catalogue))
}

/// A ticket as clients see it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TicketBody {
    id: String,
    title: String,
    /// Major units (`12.5`).
    price: f64,
    description: String,
    /// The seller.
    user_id: String,
    /// The order holding or having bought the ticket.
    order_id: Option<String>,
    /// `available`, `reserved` or `sold`.
    status: &'static str,
    version: i64,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    created_at: OffsetDateTime,
    /// The catalogue event the ticket is for, or `null`.
    #[schema(required = true)]
    event_id: Option<String>,
    /// Its serial number within that event, or `null`.
    #[schema(required = true)]
    serial_number: Option<String>,
}

impl From<Ticket> for TicketBody {
    fn from(ticket: Ticket) -> Self {
        Self {
            id: ticket.id.to_string(),
            title: ticket.title,
            price: ticket.price.to_major(),
            description: ticket.description,
            user_id: ticket.user_id.to_string(),
            order_id: ticket.order_id.map(|o| o.to_string()),
            status: ticket.status.as_str(),
            version: ticket.version,
            created_at: ticket.created_at,
            event_id: ticket.event_id.map(|e| e.to_string()),
            serial_number: ticket.serial_number,
        }
    }
}

/// What a seller sends to list or edit a ticket.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TicketRequest {
    /// 1–200 characters after trimming.
    #[serde(default)]
    title: Option<String>,
    /// A number or a decimal string; see [`price_schema`]. Read as a JSON value so that
    /// any other type is a field error like a missing price, not a malformed body.
    #[serde(default)]
    #[schema(schema_with = price_schema)]
    price: Option<serde_json::Value>,
    /// Up to 5000 characters.
    #[serde(default)]
    description: Option<String>,
    /// The catalogue event the ticket is for: it must exist and not have started. Omitted
    /// on an edit: the ticket keeps its event; `null`: the ticket is for no event.
    #[serde(default, rename = "eventId", deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    event_id: Option<Option<serde_json::Value>>,
    /// 1–64 characters after trimming, unique among the event's tickets that are not
    /// withdrawn; only with an event. Omitted on an edit: kept while the event stays the
    /// same, dropped when it changes; `null`: none.
    #[serde(default, rename = "serialNumber", deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    serial_number: Option<Option<serde_json::Value>>,
}

/// Reads a field that is in the body, `null` or not (`Some(None)` for `null`); a field
/// that is not there is serde's default, `None`. Tells "omitted" from `null`.
fn present<'de, D: Deserializer<'de>>(
    field: D,
) -> Result<Option<Option<serde_json::Value>>, D::Error> {
    Option::<serde_json::Value>::deserialize(field).map(Some)
}

/// What a request said about an optional text field. Any other JSON type is taken as
/// text that cannot be valid, so it is the field's own validation error.
fn patch(field: &Option<Option<serde_json::Value>>) -> Patch<&str> {
    match field {
        None => Patch::Keep,
        Some(None | Some(serde_json::Value::Null)) => Patch::Clear,
        Some(Some(serde_json::Value::String(text))) => Patch::Set(text),
        Some(Some(_)) => Patch::Set(""),
    }
}

/// The documented `price` of [`TicketRequest`]: a JSON number, or the same amount as a
/// decimal string, which is what the classic form-based clients send.
fn price_schema() -> Schema {
    let number = ObjectBuilder::new()
        .schema_type(Type::Number)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Double)));
    let decimal = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(r"^[0-9]+(\.[0-9]+)?$"));
    OneOfBuilder::new()
        .description(Some(
            "Major units, `> 0`, `<= 1000000`, at most 2 decimals: a number (`20.5`) or the \
             same as a decimal string (`\"20.50\"`), with the same rules and messages.",
        ))
        .item(number)
        .item(decimal)
        .examples([serde_json::json!(20.5), serde_json::json!("20.50")])
        .into()
}

impl TicketRequest {
    fn input(&self) -> Result<TicketInput, ApiError> {
        let price = match &self.price {
            Some(serde_json::Value::Number(number)) => number.as_f64().map(MajorUnits::Number),
            Some(serde_json::Value::String(text)) => Some(MajorUnits::Decimal(text)),
            _ => None,
        };
        Ok(TicketInput::parse(
            self.title.as_deref(),
            price,
            self.description.as_deref(),
            patch(&self.event_id),
            patch(&self.serial_number),
        )?)
    }
}

/// List a ticket for sale.
#[utoipa::path(
    post, path = "/api/tickets", tag = TAG,
    request_body = TicketRequest,
    responses(
        (status = 201, description = "Listed; `ticket:created` published", body = TicketBody),
        (status = 400, description = "`Title is required`, `Price must be greater than 0`, \
            `Event not found`, `Event has already started` (field `eventId`), `Ticket already \
            exists` (field `serialNumber`), …", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
async fn create_ticket(
    State(service): State<TicketsService>,
    user: AuthUser,
    ApiJson(body): ApiJson<TicketRequest>,
) -> Result<Response, ApiError> {
    let draft = body.input()?.into_draft(None)?;
    let ticket = service.create(user.id(), draft).await?;
    Ok((StatusCode::CREATED, axum::Json(TicketBody::from(ticket))).into_response())
}

/// Tickets for sale, oldest first; `eventId` narrows them to one event's. The total
/// number matching is in `X-Total-Count`.
#[utoipa::path(
    get, path = "/api/tickets", tag = TAG,
    params(ListParams),
    responses(
        (status = 200, description = "One page of tickets", body = [TicketBody],
         headers(("x-total-count" = u64, description = "tickets matching the filters"))),
        (status = 400, description = "A bad filter", body = ErrorBody),
    )
)]
async fn list_tickets(
    State(service): State<TicketsService>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params.map_err(|_| ApiError::bad_request("Invalid query string"))?;
    let (tickets, total) = service.list(&params.parse()?).await?;
    let body: Vec<TicketBody> = tickets.into_iter().map(TicketBody::from).collect();
    let mut headers = HeaderMap::new();
    headers.insert("x-total-count", HeaderValue::from(total));
    Ok((headers, axum::Json(body)).into_response())
}

/// One ticket, whatever its status.
#[utoipa::path(
    get, path = "/api/tickets/{id}", tag = TAG,
    params(("id" = String, Path, description = "Ticket id")),
    responses(
        (status = 200, description = "The ticket", body = TicketBody),
        (status = 404, description = "No such ticket", body = ErrorBody),
    )
)]
async fn show_ticket(
    State(service): State<TicketsService>,
    PathId(id): PathId,
) -> Result<axum::Json<TicketBody>, ApiError> {
    let ticket = service.get(TicketId(id)).await?;
    Ok(axum::Json(ticket.into()))
}

/// Edit a ticket: only its seller, only while nobody holds it. An omitted `eventId` keeps
/// the ticket's event (and an omitted `serialNumber` its serial), which must still not
/// have started.
#[utoipa::path(
    put, path = "/api/tickets/{id}", tag = TAG,
    params(("id" = String, Path, description = "Ticket id")),
    request_body = TicketRequest,
    responses(
        (status = 200, description = "Edited; version + 1; `ticket:updated` published", body = TicketBody),
        (status = 400, description = "`Cannot edit a reserved ticket`, `Event not found`, \
            `Event has already started`, `Ticket already exists` or another validation error", body = ErrorBody),
        (status = 401, description = "Not signed in, or not the seller", body = ErrorBody),
        (status = 404, description = "No such ticket", body = ErrorBody),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
async fn update_ticket(
    State(service): State<TicketsService>,
    user: AuthUser,
    PathId(id): PathId,
    ApiJson(body): ApiJson<TicketRequest>,
) -> Result<axum::Json<TicketBody>, ApiError> {
    let (user, id) = (user.id(), TicketId(id));
    // Existence and ownership come before validation, as for the reservation.
    let current = service.owned(user, id).await?;
    let draft = body.input()?.into_draft(Some(&current))?;
    let ticket = service.update(user, id, draft).await?;
    Ok(axum::Json(ticket.into()))
}

/// Withdraw a ticket: only its seller, only while nobody holds it.
#[utoipa::path(
    delete, path = "/api/tickets/{id}", tag = TAG,
    params(("id" = String, Path, description = "Ticket id")),
    responses(
        (status = 204, description = "Withdrawn; `ticket:deleted` published"),
        (status = 400, description = "`Cannot delete a reserved ticket`", body = ErrorBody),
        (status = 401, description = "Not signed in, or not the seller", body = ErrorBody),
        (status = 404, description = "No such ticket", body = ErrorBody),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
async fn delete_ticket(
    State(service): State<TicketsService>,
    user: AuthUser,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    service.delete(user.id(), TicketId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

impl From<TicketError> for ApiError {
    /// A broken rule is the client's mistake: field errors, 401 for someone else's
    /// ticket, 400 with the rule's message.
    fn from(err: TicketError) -> Self {
        match err {
            TicketError::Invalid(problems) => Self::Validation(
                problems
                    .into_iter()
                    .map(|(field, message)| ErrorItem::field(field, message))
                    .collect(),
            ),
            TicketError::NotOwner => Self::Unauthorized,
            TicketError::Refused(message) => Self::bad_request(message),
        }
    }
}

impl From<TicketsError> for ApiError {
    fn from(err: TicketsError) -> Self {
        match err {
            TicketsError::NotFound => Self::NotFound,
            TicketsError::Rule(rule) => rule.into(),
            TicketsError::Internal(e) => Self::Internal(e),
        }
    }
}
