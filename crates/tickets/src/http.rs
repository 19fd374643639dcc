//! The `/api/tickets` routes. Thin: authenticate, parse, call the service, shape JSON.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use boxoffice_common::id::parse_id;
use boxoffice_common::money::MajorUnits;
use boxoffice_common::{Money, TicketId};
use boxoffice_platform::http::{ApiError, ApiJson, AuthUser, ErrorBody, ErrorItem, PathId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::openapi::schema::{
    KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, Type,
};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::{Ticket, TicketDraft, TicketError, TicketStatus};
use crate::service::{TicketsError, TicketsService};
use crate::store::{ListQuery, Sort, StatusFilter};

pub const TAG: &str = "tickets";
const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 200;

/// The `/api/tickets` routes, documented.
pub fn router(service: TicketsService) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(create_ticket, list_tickets))
        .routes(routes!(show_ticket, update_ticket, delete_ticket))
        .with_state(service)
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
    fn draft(&self) -> Result<TicketDraft, ApiError> {
        let price = match &self.price {
            Some(serde_json::Value::Number(number)) => number.as_f64().map(MajorUnits::Number),
            Some(serde_json::Value::String(text)) => Some(MajorUnits::Decimal(text)),
            _ => None,
        };
        Ok(TicketDraft::parse(
            self.title.as_deref(),
            price,
            self.description.as_deref(),
        )?)
    }
}

/// Listing filters. All optional.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Title contains this text (case-insensitive).
    q: Option<String>,
    /// Lowest price, major units.
    min_price: Option<String>,
    /// Highest price, major units.
    max_price: Option<String>,
    /// One seller's tickets.
    user_id: Option<String>,
    /// `available`, `reserved`, `sold` or `all`; default: not sold.
    status: Option<String>,
    /// `price`, `-price` or `newest`; default: oldest first.
    sort: Option<String>,
    /// Page size, 1–200, default 50.
    limit: Option<String>,
    /// 1-based page number.
    page: Option<String>,
}

impl ListParams {
    fn parse(&self) -> Result<ListQuery, ApiError> {
        let mut problems = Vec::new();
        let mut bad = |field: &str, message: &str| problems.push(ErrorItem::field(field, message));
        let price = |text: &Option<String>, field: &str, bad: &mut dyn FnMut(&str, &str)| {
            let text = text.as_deref()?;
            match text.parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 => {
                    Some(Money::from_minor((v * 100.0).round() as i64))
                }
                _ => {
                    bad(field, &format!("{field} must be a number of at least 0"));
                    None
                }
            }
        };
        let min_price = price(&self.min_price, "minPrice", &mut bad);
        let max_price = price(&self.max_price, "maxPrice", &mut bad);
        let seller = match self.user_id.as_deref().map(parse_id) {
            Some(None) => {
                bad("userId", "userId must be a user id");
                None
            }
            Some(id) => id,
            None => None,
        };
        let status = match self.status.as_deref() {
            None => StatusFilter::NotSold,
            Some("all") => StatusFilter::All,
            Some(text) => match TicketStatus::parse(text) {
                Some(status) => StatusFilter::Only(status),
                None => {
                    bad("status", "status must be available, reserved, sold or all");
                    StatusFilter::NotSold
                }
            },
        };
        let sort = match self.sort.as_deref() {
            None => Sort::Oldest,
            Some("price") => Sort::PriceAscending,
            Some("-price") => Sort::PriceDescending,
            Some("newest") => Sort::Newest,
            Some(_) => {
                bad("sort", "sort must be price, -price or newest");
                Sort::Oldest
            }
        };
        let limit = match self.limit.as_deref().map(str::parse::<u32>) {
            None => DEFAULT_LIMIT,
            Some(Ok(limit)) if (1..=MAX_LIMIT).contains(&limit) => limit,
            Some(_) => {
                bad("limit", "limit must be between 1 and 200");
                DEFAULT_LIMIT
            }
        };
        let page = match self.page.as_deref().map(str::parse::<u64>) {
            None => 1,
            Some(Ok(page)) if page >= 1 => page,
            Some(_) => {
                bad("page", "page must be 1 or more");
                1
            }
        };
        if !problems.is_empty() {
            return Err(ApiError::Validation(problems));
        }
        Ok(ListQuery {
            text: self
                .q
                .as_deref()
                .map(str::trim)
                .filter(|q| !q.is_empty())
                .map(str::to_owned),
            min_price,
            max_price,
            seller,
            status,
            sort,
            limit,
            offset: (page - 1).saturating_mul(u64::from(limit)),
        })
    }
}

/// List a ticket for sale.
#[utoipa::path(
    post, path = "/api/tickets", tag = TAG,
    request_body = TicketRequest,
    responses(
        (status = 201, description = "Listed; `ticket:created` published", body = TicketBody),
        (status = 400, description = "`Title is required`, `Price must be greater than 0`, …", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
async fn create_ticket(
    State(service): State<TicketsService>,
    user: AuthUser,
    ApiJson(body): ApiJson<TicketRequest>,
) -> Result<Response, ApiError> {
    let ticket = service.create(user.id(), body.draft()?).await?;
    Ok((StatusCode::CREATED, axum::Json(TicketBody::from(ticket))).into_response())
}

/// Tickets for sale, oldest first. The total number matching is in `X-Total-Count`.
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

/// Edit a ticket: only its seller, only while nobody holds it.
#[utoipa::path(
    put, path = "/api/tickets/{id}", tag = TAG,
    params(("id" = String, Path, description = "Ticket id")),
    request_body = TicketRequest,
    responses(
        (status = 200, description = "Edited; version + 1; `ticket:updated` published", body = TicketBody),
        (status = 400, description = "`Cannot edit a reserved ticket` or a validation error", body = ErrorBody),
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
    let ticket = service.get(id).await?;
    if ticket.user_id != user.get() {
        return Err(ApiError::Unauthorized);
    }
    let ticket = service.update(user, id, body.draft()?).await?;
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
