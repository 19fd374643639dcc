//! Paying (UI.md pages 7 and 8): the checkout's pay form → `POST /api/payments` with the
//! form's idempotency key, and the test processor's stand-in for the bank's 3-D Secure
//! challenge → `POST /api/payments/{id}/authenticate`.
//!
//! Every answer ends on the order's page, which shows what the order now is: paid →
//! the confirmation; still being decided → "Payment in progress"; declined → the
//! checkout again with the provider's message (status 400), the hold still counting;
//! refused because the order is no longer payable → "you were not charged".
//!
//! The 3-D Secure page's address carries only the payment's id: its `clientSecret` is
//! read server-side from `GET /api/payments/{id}` (the owner's view), so it never lands
//! in a URL, the browser's history or a log. With Stripe the page hands the secret to
//! Stripe.js (`handleNextAction` runs the bank's check), then returns to the order's page,
//! which says "Payment in progress" until Stripe's webhook has settled the payment.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::checkout::{Done, PayAgain, order_path, render};
use super::common::{PageForm, PageQuery, SignedIn, html, require_user};
use super::order_view::{OrderView, fetch_order, instant};
use super::tickets::{PageId, plausible_id};
use crate::api::{Call, Problem};
use crate::chrome::Chrome;
use crate::failure::Failure;
use crate::forms::FormErrors;
use crate::visitor::Visitor;
use crate::{StripeBrowser, Web};

pub fn routes() -> Router<Web> {
    Router::new().route("/orders/{id}/pay", post(pay)).route(
        "/orders/{id}/authenticate",
        get(challenge).post(authenticate),
    )
}

#[derive(Debug, Default, Deserialize)]
struct PayForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    idempotency_key: String,
    /// The hold the form showed (RFC 3339), see [`PayAgain::hold_until`].
    #[serde(default)]
    hold_until: String,
}

/// `POST /orders/{id}/pay`.
async fn pay(
    State(web): State<Web>,
    PageId(id): PageId,
    visitor: Visitor,
    PageForm(form): PageForm<PayForm>,
) -> Result<Response, Failure> {
    let id = id.as_str();
    let next = order_path(id, None);
    require_user(&visitor, &next)?;
    let token = form.token.trim().to_owned();
    let key = form.idempotency_key.trim();
    let call = Call {
        session: visitor.session(),
        body: Some(json!({ "orderId": id, "token": token })),
        idempotency_key: (1..=255).contains(&key.len()).then_some(key),
        ..Call::default()
    };
    let reply = web.api.send(Method::POST, "/api/payments", call).await?;
    if reply.is_success() {
        let payment = &reply.body;
        return Ok(match payment["status"].as_str() {
            Some("succeeded") => Redirect::to(&order_path(id, Some(Done::Paid))),
            Some("requires_action") => Redirect::to(&challenge_path(id, payment)?),
            _ => Redirect::to(&order_path(id, Some(Done::Processing))),
        }
        .into_response());
    }
    match reply.status {
        // The same key's first request is still running: this was a second press.
        StatusCode::CONFLICT => {
            Ok(Redirect::to(&order_path(id, Some(Done::Processing))).into_response())
        }
        StatusCode::BAD_REQUEST => {
            let order = fetch_order(&web, &visitor, id, &next).await?;
            let status = OrderView::from_json(&order, &web.config.currency).status;
            match status.as_str() {
                "complete" => Ok(Redirect::to(&order_path(id, Some(Done::Paid))).into_response()),
                "cancelled" => {
                    Ok(Redirect::to(&order_path(id, Some(Done::NotCharged))).into_response())
                }
                _ => {
                    // Declined (or no card chosen): the provider's words beside the cards.
                    let problems = reply
                        .problems()
                        .into_iter()
                        .map(|problem| Problem {
                            message: problem.message,
                            field: Some("card".to_owned()),
                        })
                        .collect();
                    let again = PayAgain {
                        errors: FormErrors::new(problems),
                        chosen: (!token.is_empty()).then_some(token),
                        hold_until: instant(&Value::String(form.hold_until.clone())),
                        ..PayAgain::default()
                    };
                    render(&web, &visitor, &order, None, again, StatusCode::BAD_REQUEST)
                }
            }
        }
        _ => Err(Failure::from_reply(&reply, &next)),
    }
}

/// `/orders/{id}/authenticate?payment=…` for a payment that requires action.
fn challenge_path(id: &str, payment: &Value) -> Result<String, Failure> {
    match payment["id"].as_str() {
        Some(payment) if plausible_id(payment) => {
            Ok(format!("/orders/{id}/authenticate?payment={payment}"))
        }
        _ => Err(Failure::Internal("payment without an id".to_owned())),
    }
}

/// The `clientSecret` of payment `payment` for order `order`, read from the API as its
/// owner; a payment that is not this order's is "not found".
async fn client_secret(
    web: &Web,
    visitor: &Visitor,
    order: &str,
    payment: &str,
    next: &str,
) -> Result<String, Failure> {
    if !plausible_id(payment) {
        return Err(Failure::NotFound);
    }
    let reply = web
        .api
        .get(&format!("/api/payments/{payment}"), visitor.session())
        .await?;
    match reply.status {
        status if status.is_success() => {}
        // Signed in, so: someone else's payment.
        StatusCode::UNAUTHORIZED if visitor.signed_in() => return Err(Failure::NotFound),
        _ => return Err(Failure::from_reply(&reply, next)),
    }
    if reply.body["orderId"].as_str() != Some(order) {
        return Err(Failure::NotFound);
    }
    Ok(reply.body["clientSecret"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

#[derive(Debug, Default, Deserialize)]
struct Challenge {
    #[serde(default)]
    payment: String,
}

#[derive(Template)]
#[template(path = "authenticate.html")]
struct ChallengePage {
    chrome: Chrome,
    order: OrderView,
    payment: String,
}

/// `GET /orders/{id}/authenticate`: the test processor's stand-in for the bank's page.
async fn challenge(
    State(web): State<Web>,
    PageId(id): PageId,
    SignedIn(visitor): SignedIn,
    PageQuery(challenge): PageQuery<Challenge>,
) -> Result<Response, Failure> {
    let stripe = web.config.stripe.clone();
    if !web.config.test_payments && stripe.is_none() {
        return Err(Failure::NotFound);
    }
    let payment = challenge.payment;
    let next = format!("/orders/{id}/authenticate?payment={payment}");
    let order = fetch_order(&web, &visitor, &id, &next).await?;
    let order = OrderView::from_json(&order, &web.config.currency);
    if !order.is_open() {
        return Ok(Redirect::to(&order_path(&id, None)).into_response());
    }
    // Checks that the payment is this order's; the test page keeps the secret on the server.
    let secret = client_secret(&web, &visitor, &id, &payment, &next).await?;
    let chrome = Chrome::new("Confirm your payment", &visitor);
    let Some(stripe) = stripe else {
        return html(
            StatusCode::OK,
            &ChallengePage {
                chrome,
                order,
                payment,
            },
        );
    };
    // Stripe.js runs the bank's check in the page, and needs the intent's client secret
    // for it: the page carries it, so no cache may keep the page.
    let page = StripeChallengePage {
        chrome,
        order,
        client_secret: secret,
        stripe,
    };
    let mut response = html(StatusCode::OK, &page)?;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[derive(Template)]
#[template(path = "authenticate_stripe.html")]
struct StripeChallengePage {
    chrome: Chrome,
    order: OrderView,
    client_secret: String,
    stripe: StripeBrowser,
}

#[derive(Debug, Default, Deserialize)]
struct Outcome {
    #[serde(default)]
    payment: String,
    #[serde(default)]
    success: String,
}

/// `POST /orders/{id}/authenticate`: completes or fails the check, then shows the order.
/// No polling: the order's page says "Payment received" once the order is complete and
/// "Payment in progress" until then.
async fn authenticate(
    State(web): State<Web>,
    PageId(id): PageId,
    visitor: Visitor,
    PageForm(outcome): PageForm<Outcome>,
) -> Result<Response, Failure> {
    let id = id.as_str();
    let next = order_path(id, None);
    require_user(&visitor, &next)?;
    let payment = outcome.payment.as_str();
    let secret = client_secret(&web, &visitor, id, payment, &next).await?;
    let success = outcome.success == "true";
    let call = Call {
        session: visitor.session(),
        body: Some(json!({ "clientSecret": secret, "success": success })),
        ..Call::default()
    };
    let reply = web
        .api
        .send(
            Method::POST,
            &format!("/api/payments/{payment}/authenticate"),
            call,
        )
        .await?;
    if !reply.is_success() && reply.status != StatusCode::BAD_REQUEST {
        return Err(Failure::from_reply(&reply, &next));
    }
    let done = if reply.is_success() {
        match reply.body["status"].as_str() {
            Some("succeeded") => Done::Authenticated,
            Some("failed") => Done::AuthFailed,
            Some("voided") => Done::NotCharged,
            _ => Done::Processing,
        }
    } else {
        // A wrong secret, or nothing left to authenticate (a second press): the order
        // says which.
        let order = fetch_order(&web, &visitor, id, &next).await?;
        match order["status"].as_str() {
            Some("complete" | "cancelled") => Done::Authenticated,
            _ => Done::AuthFailed,
        }
    };
    Ok(Redirect::to(&order_path(id, Some(done))).into_response())
}
