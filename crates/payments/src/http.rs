//! The `/api/payments` routes. Thin: authenticate, parse, call the service, shape JSON.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use boxoffice_common::id::parse_id;
use boxoffice_common::{OrderId, UserId};
use boxoffice_platform::http::{ApiError, ApiJson, AuthUser, ErrorBody, ErrorItem, PathId};
use boxoffice_platform::idempotency::{request_hash, respond_once};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::{ORDER_ID_REQUIRED, Payment, PaymentStatus, TOKEN_REQUIRED};
use crate::service::PaymentsService;

pub const TAG: &str = "payments";

pub fn router(service: PaymentsService) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(create_payment))
        .routes(routes!(show_payment))
        .routes(routes!(receive_webhook))
        .routes(routes!(authenticate_payment))
        .with_state(service)
}

/// A payment as its payer sees it: always exactly these four keys.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentBody {
    id: String,
    order_id: String,
    /// `succeeded` (captured), `processing` (authorized, the order's decision or the
    /// capture still under way), `requires_action` (3-D Secure); later also `failed`,
    /// `voided` (the order refused; nothing was taken), `refunding`, `refunded`.
    status: String,
    /// Set while `requires_action`: the browser finishes 3-D Secure with it. `null`
    /// when no browser step is needed.
    client_secret: Option<String>,
}

impl From<Payment> for PaymentBody {
    fn from(payment: Payment) -> Self {
        let client_secret = match payment.status {
            PaymentStatus::RequiresAction => payment.client_secret,
            _ => None,
        };
        Self {
            id: payment.id.to_string(),
            order_id: payment.order_id.to_string(),
            status: payment.status.public().to_owned(),
            client_secret,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PayRequest {
    #[serde(default)]
    order_id: Option<String>,
    /// A card token (`tok_visa`, …) or, with Stripe, a PaymentMethod id (`pm_…`).
    #[serde(default)]
    token: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticateRequest {
    #[serde(default)]
    client_secret: String,
    #[serde(default)]
    success: bool,
}

/// Pay for one of your orders.
///
/// The amount is authorized (held on the card), then the orders service completes the
/// order or refuses it, and only then is the money captured — or the authorization voided,
/// so a refused payment never reaches the card statement. The request waits for that
/// decision, bounded (5 s by default); past the bound it answers `processing` and the
/// outcome follows (`GET /api/payments/{id}`, the order's status).
///
/// With an `Idempotency-Key` header (1–255 characters) the same request within 24 h gets
/// the first answer again; the same key with a different body is refused, and a key whose
/// first request is still running answers 409. 404s and 5xx answers are not remembered,
/// since a retry may succeed. Whatever the keys, an order is charged at most once.
#[utoipa::path(
    post, path = "/api/payments", tag = TAG,
    request_body = PayRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    responses(
        (status = 201, description = "`succeeded` (captured; event `payment:created`), `processing` (decision or capture still under way) or `requires_action` (with `clientSecret`)", body = PaymentBody),
        (status = 400, description = "`Token is required`, `OrderId is required`, `Cannot pay for a cancelled order` (also after the order refused and the authorization was voided), `Order has already been paid for`, or the provider's decline message", body = ErrorBody),
        (status = 401, description = "Not signed in, or not your order", body = ErrorBody),
        (status = 404, description = "No such order", body = ErrorBody),
        (status = 409, description = "The same Idempotency-Key is still being processed", body = ErrorBody),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
async fn create_payment(
    State(service): State<PaymentsService>,
    user: AuthUser,
    headers: HeaderMap,
    ApiJson(body): ApiJson<PayRequest>,
) -> Result<Response, ApiError> {
    let user = user.id();
    let (order_id, token) = validate(&body)?;
    // An order this service has not heard of (yet) is a 404 that is never remembered under
    // a key: answer it before touching the key store, which costs two writes.
    if !service.knows_order(order_id).await? {
        return Err(ApiError::NotFound);
    }
    let request_hash = request_hash(&[&order_id.to_string(), &token]);
    let keys = service.idempotency();
    respond_once(
        keys.as_ref(),
        user.get(),
        &headers,
        &request_hash,
        service.clock().now(),
        || pay(&service, user, order_id, &token),
    )
    .await
}

async fn pay(service: &PaymentsService, user: UserId, order_id: OrderId, token: &str) -> Response {
    match service.pay(user, order_id, token).await {
        Ok(payment) => {
            (StatusCode::CREATED, axum::Json(PaymentBody::from(payment))).into_response()
        }
        Err(err) => ApiError::from(err).into_response(),
    }
}

/// One of your payments, as it now is: how a `processing` answer turns out.
#[utoipa::path(
    get, path = "/api/payments/{id}", tag = TAG,
    params(("id" = String, Path, description = "Payment id")),
    responses(
        (status = 200, description = "The payment", body = PaymentBody),
        (status = 401, description = "Not signed in, or not your payment", body = ErrorBody),
        (status = 404, description = "No such payment", body = ErrorBody),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
async fn show_payment(
    State(service): State<PaymentsService>,
    user: AuthUser,
    PathId(id): PathId,
) -> Result<axum::Json<PaymentBody>, ApiError> {
    let payment = service.payment_of(user.id(), id.into()).await?;
    Ok(axum::Json(PaymentBody::from(payment)))
}

fn validate(body: &PayRequest) -> Result<(OrderId, String), ApiError> {
    let present = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let token = present(&body.token);
    let order_id = present(&body.order_id);
    let mut problems = Vec::new();
    if token.is_none() {
        problems.push(ErrorItem::field("token", TOKEN_REQUIRED));
    }
    if order_id.is_none() {
        problems.push(ErrorItem::field("orderId", ORDER_ID_REQUIRED));
    }
    match (order_id, token) {
        (Some(order_id), Some(token)) => {
            let order_id = parse_id(&order_id).ok_or(ApiError::NotFound)?;
            Ok((OrderId(order_id), token))
        }
        _ => Err(ApiError::Validation(problems)),
    }
}

/// Provider webhooks (Stripe-signed). Each provider event id is processed once.
#[utoipa::path(
    post, path = "/api/payments/webhook", tag = TAG,
    request_body(content = String, description = "The provider's event, verified over the raw bytes", content_type = "application/json"),
    params(("Stripe-Signature" = String, Header, description = "t=<unix time>,v1=<HMAC-SHA256>")),
    responses(
        (status = 200, description = "Received", body = Object, example = json!({"received": true})),
        (status = 400, description = "Missing, stale or wrong signature, or an unreadable event", body = ErrorBody),
    )
)]
async fn receive_webhook(
    State(service): State<PaymentsService>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    service.receive_webhook(&body, signature).await?;
    Ok(axum::Json(serde_json::json!({ "received": true })))
}

/// Test processor: finish 3-D Secure for one of your payments (404 with Stripe, where the
/// browser does it with Stripe.js).
#[utoipa::path(
    post, path = "/api/payments/{id}/authenticate", tag = TAG,
    params(("id" = String, Path, description = "Payment id")),
    request_body = AuthenticateRequest,
    responses(
        (status = 200, description = "Settled through the signed-webhook path: authorized, then decided and captured (`succeeded`) or voided (`voided`) as paying is; `processing` past the bound, `failed` when authentication failed", body = PaymentBody),
        (status = 400, description = "Wrong client secret, or nothing to authenticate", body = ErrorBody),
        (status = 401, description = "Not signed in, or not your payment", body = ErrorBody),
        (status = 404, description = "No such payment, or Stripe mode", body = ErrorBody),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
async fn authenticate_payment(
    State(service): State<PaymentsService>,
    user: AuthUser,
    PathId(id): PathId,
    ApiJson(body): ApiJson<AuthenticateRequest>,
) -> Result<axum::Json<PaymentBody>, ApiError> {
    let payment = service
        .authenticate(user.id(), id.into(), &body.client_secret, body.success)
        .await?;
    Ok(axum::Json(PaymentBody::from(payment)))
}
