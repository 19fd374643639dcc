//! The `/api/orders` routes. Thin: authenticate, parse, call the service, shape JSON.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use boxoffice_common::OrderId;
use boxoffice_platform::http::admission::ADMISSION_REQUIRED;
use boxoffice_platform::http::{ApiError, ApiJson, AuthUser, ErrorBody, PathId};
use boxoffice_platform::idempotency::{NotFinal, respond_once};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::{Order, OrderError, OrderedTicket};
use crate::service::{OrdersError, OrdersService, TICKET_LIMIT_REACHED};

mod asked;

use asked::Asked;

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
    /// The first of `tickets`, for clients that know one ticket per order.
    ticket: OrderTicketBody,
    /// Every ticket the order holds, in the order they were asked for.
    tickets: Vec<OrderTicketBody>,
    /// The sum of the tickets' prices, major units: what paying charges.
    total: f64,
}

/// A ticket as it was when the order was placed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderTicketBody {
    id: String,
    title: String,
    /// Major units.
    price: f64,
    version: i64,
}

impl From<&OrderedTicket> for OrderTicketBody {
    fn from(ticket: &OrderedTicket) -> Self {
        Self {
            id: ticket.id.to_string(),
            title: ticket.title.clone(),
            price: ticket.price.to_major(),
            version: ticket.version,
        }
    }
}

impl From<Order> for OrderBody {
    fn from(order: Order) -> Self {
        Self {
            ticket: OrderTicketBody::from(&order.ticket),
            tickets: order.tickets().map(OrderTicketBody::from).collect(),
            total: order.total().to_major(),
            id: order.id.to_string(),
            user_id: order.user_id.to_string(),
            status: order.status.as_str(),
            expires_at: order.expires_at,
            version: order.version,
            created_at: order.created_at,
            cancel_reason: order.cancel_reason.map(|r| r.as_str()),
        }
    }
}

/// One ticket (`ticketId`) or a basket (`ticketIds`), not both.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlaceOrderRequest {
    #[serde(default)]
    ticket_id: Option<String>,
    /// 1 to `MAX_TICKETS_PER_ORDER` (default 10) distinct ticket ids, held all or none.
    /// Read as a JSON value so that any other shape is a field error, not a malformed body.
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    ticket_ids: Option<serde_json::Value>,
    /// Your waiting-room admission (`room-admitted` of `/api/events/{id}/room/events`),
    /// needed while the tickets' event has an open room. Browsers need not send it: the
    /// admission also arrives as a cookie, which is read too.
    #[serde(default)]
    admission_token: Option<String>,
}

/// The cookie an admission to an event's room travels in: one per event, so admissions
/// to two rooms do not overwrite each other.
pub const ADMISSION_COOKIE_PREFIX: &str = "admission-";

/// Every admission the request offers: the body's `admissionToken` and each admission
/// cookie. Which one (if any) is the buyer's for which event, the service decides.
fn admissions_offered(body: &PlaceOrderRequest, headers: &HeaderMap) -> Vec<String> {
    let mut offered: Vec<String> = body.admission_token.iter().cloned().collect();
    for header in headers.get_all(axum::http::header::COOKIE) {
        let Ok(text) = header.to_str() else { continue };
        for pair in text.split(';') {
            if let Some((name, value)) = pair.trim().split_once('=')
                && name.starts_with(ADMISSION_COOKIE_PREFIX)
                && !value.is_empty()
            {
                offered.push(value.to_owned());
            }
        }
    }
    offered
}

/// Order a ticket, or several at once: they are held for you until `expiresAt`.
///
/// `{"ticketId": id}` orders one ticket. `{"ticketIds": [id, …]}` (1 to
/// `MAX_TICKETS_PER_ORDER`, default 10, distinct) orders a basket, all or nothing: either
/// the new order holds every ticket, or none and the answer is the error of the first
/// ticket (in the order sent) that could not be held, with `field` `ticketIds` — a 404 for
/// an unknown or malformed id included. `total` is the sum of the prices; paying charges it.
///
/// With an `Idempotency-Key` header (1–255 characters) a retried request within 24 h gets
/// the first answer again (the same order) instead of `Ticket is already reserved`.
#[utoipa::path(
    post, path = "/api/orders", tag = TAG,
    request_body = PlaceOrderRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    responses(
        (status = 201, description = "Placed; `order:created` published", body = OrderBody),
        (status = 400, description = "`TicketId must be provided`, `Ticket is already reserved`, `Cannot buy your own ticket`, `Ticket is reserved for the next buyer in line` (someone in the ticket's line has the turn, see `/api/queue`), `Waiting room admission required` (the tickets' event has an open waiting room and no valid admission of yours to it was offered), `Ticket limit for this event reached` (the room's per-account limit); for `ticketIds` the same messages with `field` `ticketIds`, and `TicketIds must be a list of 1 to N ticket ids`, `TicketIds must not repeat a ticket`, `Send either ticketId or ticketIds, not both`", body = ErrorBody),
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
    let asked = Asked::parse(&body, service.max_tickets())?;
    let admissions = admissions_offered(&body, &headers);
    let keys = service.store().idempotency();
    respond_once(
        keys.as_ref(),
        buyer.get(),
        &headers,
        &asked.request_hash(),
        service.clock().now(),
        || async {
            match service.place(buyer, asked.tickets(), &admissions).await {
                Ok(order) => {
                    (StatusCode::CREATED, axum::Json(OrderBody::from(order))).into_response()
                }
                Err(err) => {
                    // The buyer may get an admission, or cancel an order, and try again
                    // with the same key: these refusals are not the key's final answer.
                    let not_final = matches!(
                        err,
                        OrdersError::Rule(OrderError::Refused(
                            ADMISSION_REQUIRED | TICKET_LIMIT_REACHED
                        ))
                    );
                    let mut response = asked.refusal(err);
                    if not_final {
                        response.extensions_mut().insert(NotFinal);
                    }
                    response
                }
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
