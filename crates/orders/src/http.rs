//! The `/api/orders` routes. Thin: authenticate, parse, call the service, shape JSON.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use boxoffice_common::id::parse_id;
use boxoffice_common::{OrderId, TicketId};
use boxoffice_platform::http::{ApiError, ApiJson, AuthUser, ErrorBody, PathId};
use boxoffice_platform::idempotency::{request_hash, respond_once};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::{Order, OrderError, TICKET_ID_REQUIRED};
use crate::service::{OrdersError, OrdersService};

pub const TAG: &str = "orders";

pub fn router(service: OrdersService) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(place_order, list_orders))
        .routes(routes!(show_order, cancel_order))
        .with_state(service)
}

/// An order as its buyer sees it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderBody {
    id: String,
    user_id: String,
    /// `created`, `awaiting:payment`, `complete` or `cancelled`.
    status: &'static str,
    /// When the hold on the ticket ends.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    expires_at: OffsetDateTime,
    version: i64,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    created_at: OffsetDateTime,
    /// `user`, `expired` or `payment_failed` for cancelled orders; otherwise `null`.
    cancel_reason: Option<&'static str>,
    ticket: OrderTicketBody,
}

/// The ticket as it was when the order was placed.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderTicketBody {
    id: String,
    title: String,
    /// Major units.
    price: f64,
    version: i64,
}

impl From<Order> for OrderBody {
    fn from(order: Order) -> Self {
        Self {
            id: order.id.to_string(),
            user_id: order.user_id.to_string(),
            status: order.status.as_str(),
            expires_at: order.expires_at,
            version: order.version,
            created_at: order.created_at,
            cancel_reason: order.cancel_reason.map(|r| r.as_str()),
            ticket: OrderTicketBody {
                id: order.ticket.id.to_string(),
                title: order.ticket.title,
                price: order.ticket.price.to_major(),
                version: order.ticket.version,
            },
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlaceOrderRequest {
    #[serde(default)]
    ticket_id: Option<String>,
}

/// Order a ticket: it is held for you until `expiresAt`.
///
/// With an `Idempotency-Key` header (1–255 characters) a retried request within 24 h gets
/// the first answer again (the same order) instead of `Ticket is already reserved`.
#[utoipa::path(
    post, path = "/api/orders", tag = TAG,
    request_body = PlaceOrderRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    responses(
        (status = 201, description = "Placed; `order:created` published", body = OrderBody),
        (status = 400, description = "`TicketId must be provided`, `Ticket is already reserved`, `Cannot buy your own ticket`, `Ticket is reserved for the next buyer in line` (someone in the ticket's line has the turn, see `/api/queue`)", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such ticket. A ticket listed moments ago is waited for (up to `FRESH_ID_WAIT_SECONDS` after its creation) rather than answered 404", body = ErrorBody),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
async fn place_order(
    State(service): State<OrdersService>,
    user: AuthUser,
    headers: HeaderMap,
    ApiJson(body): ApiJson<PlaceOrderRequest>,
) -> Result<Response, ApiError> {
    let buyer = user.id();
    let ticket_id = body
        .ticket_id
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::invalid("ticketId", TICKET_ID_REQUIRED))?;
    let ticket = TicketId(parse_id(ticket_id).ok_or(ApiError::NotFound)?);
    let keys = service.store().idempotency();
    let hash = request_hash(&[&ticket.to_string()]);
    respond_once(
        keys.as_ref(),
        buyer.get(),
        &headers,
        &hash,
        service.clock().now(),
        || async {
            match service.place(buyer, ticket).await {
                Ok(order) => {
                    (StatusCode::CREATED, axum::Json(OrderBody::from(order))).into_response()
                }
                Err(err) => ApiError::from(err).into_response(),
            }
        },
    )
    .await
}

/// Your orders, all statuses, oldest first.
#[utoipa::path(
    get, path = "/api/orders", tag = TAG,
    responses(
        (status = 200, description = "Your orders", body = [OrderBody]),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
async fn list_orders(
    State(service): State<OrdersService>,
    user: AuthUser,
) -> Result<axum::Json<Vec<OrderBody>>, ApiError> {
    let orders = service.list(user.id()).await?;
    Ok(axum::Json(
        orders.into_iter().map(OrderBody::from).collect(),
    ))
}

/// One of your orders.
#[utoipa::path(
    get, path = "/api/orders/{id}", tag = TAG,
    params(("id" = String, Path, description = "Order id")),
    responses(
        (status = 200, description = "The order", body = OrderBody),
        (status = 401, description = "Not signed in, or not your order", body = ErrorBody),
        (status = 404, description = "No such order", body = ErrorBody),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
async fn show_order(
    State(service): State<OrdersService>,
    user: AuthUser,
    PathId(id): PathId,
) -> Result<axum::Json<OrderBody>, ApiError> {
    let order = service.get(user.id(), OrderId(id)).await?;
    Ok(axum::Json(order.into()))
}

/// Cancel one of your live orders; its ticket is freed.
#[utoipa::path(
    delete, path = "/api/orders/{id}", tag = TAG,
    params(("id" = String, Path, description = "Order id")),
    responses(
        (status = 204, description = "Cancelled (`cancelReason` `user`); `order:cancelled` published"),
        (status = 400, description = "`Cannot cancel a completed order`, `Order is already cancelled`", body = ErrorBody),
        (status = 401, description = "Not signed in, or not your order", body = ErrorBody),
        (status = 404, description = "No such order", body = ErrorBody),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
async fn cancel_order(
    State(service): State<OrdersService>,
    user: AuthUser,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    service.cancel(user.id(), OrderId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lets handlers answer a use-case's error with plain `?`.
impl From<OrdersError> for ApiError {
    fn from(err: OrdersError) -> Self {
        match err {
            OrdersError::NotFound => Self::NotFound,
            OrdersError::Rule(OrderError::NotOwner) => Self::Unauthorized,
            OrdersError::Rule(OrderError::Refused(message)) => Self::bad_request(message),
            OrdersError::Internal(e) => Self::Internal(e),
        }
    }
}
