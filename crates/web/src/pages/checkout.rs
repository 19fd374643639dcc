//! An order's page, `/orders/{id}`, in each of its states (UI.md pages 6 and 9, §2):
//! checkout with the hold and the pay form while `created`, "Payment in progress" while
//! `awaiting:payment`, the confirmation once `complete`, the reason in words once
//! `cancelled` — and cancelling, behind a confirmation page.
//!
//! The server is the clock: the page carries the server's `now` and the order's
//! `expiresAt`, and says the absolute time the hold ends, which stays true without
//! JavaScript; `static/checkout.js` only counts down between the two.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;

use super::common::{PageQuery, SignedIn, cancel_refusal, cancel_refusal_code, html};
use super::order_view::{OrderView, fetch_order, rfc3339};
use super::tickets::PageId;
use crate::api::{Call, Problem};
use crate::chrome::Chrome;
use crate::failure::Failure;
use crate::forms::FormErrors;
use crate::visitor::Visitor;
use crate::{StripeBrowser, Web};

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/orders/{id}", get(show))
        .route("/orders/{id}/cancel", get(confirm_cancel).post(cancel))
}

/// What just happened, from the `?done=` of a redirect; each maps to fixed words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    /// The payment answered `succeeded`.
    Paid,
    /// The payment answered `processing`, or a second press met the first one.
    Processing,
    /// The test 3-D Secure page was completed.
    Authenticated,
    /// The test 3-D Secure page was failed.
    AuthFailed,
    /// The buyer cancelled.
    Cancelled,
    /// Paying was refused because the order is no longer payable.
    NotCharged,
}

impl Done {
    pub fn code(self) -> &'static str {
        match self {
            Self::Paid => "paid",
            Self::Processing => "processing",
            Self::Authenticated => "authenticated",
            Self::AuthFailed => "auth_failed",
            Self::Cancelled => "cancelled",
            Self::NotCharged => "not_charged",
        }
    }

    fn parse(code: Option<&str>) -> Option<Self> {
        [
            Self::Paid,
            Self::Processing,
            Self::Authenticated,
            Self::AuthFailed,
            Self::Cancelled,
            Self::NotCharged,
        ]
        .into_iter()
        .find(|done| Some(done.code()) == code)
    }

    /// A payment was attempted.
    fn paying(self) -> bool {
        matches!(
            self,
            Self::Paid | Self::Processing | Self::Authenticated | Self::NotCharged
        )
    }
}

/// `/orders/{id}?done=…` as a path for a redirect.
pub fn order_path(id: &str, done: Option<Done>) -> String {
    match done {
        Some(done) => format!("/orders/{id}?done={}", done.code()),
        None => format!("/orders/{id}"),
    }
}

/// A test card of the built-in test processor.
pub struct Card {
    pub id: &'static str,
    pub token: &'static str,
    pub label: &'static str,
}

pub const CARDS: [Card; 3] = [
    Card {
        id: "card",
        token: "tok_visa",
        label: "Visa ending 4242 — the payment succeeds",
    },
    Card {
        id: "card-declined",
        token: "tok_chargeDeclined",
        label: "Card that is declined",
    },
    Card {
        id: "card-3ds",
        token: "tok_threeDSecure2Required",
        label: "Card that asks for 3-D Secure",
    },
];

#[derive(Template)]
#[template(path = "checkout.html")]
struct CheckoutPage {
    chrome: Chrome,
    order: OrderView,
    /// The server's clock, for the countdown.
    now: String,
    awaiting: bool,
    /// 3-D Secure just failed but the order still waits for that payment: the failure
    /// is on its way to the order, so the page offers to look again.
    recheck: bool,
    hold_ended: bool,
    errors: FormErrors,
    /// Sent as the payment's `Idempotency-Key`: a new one for every render, so a double
    /// submit of this form pays once.
    idempotency_key: String,
    test_payments: bool,
    stripe: Option<StripeBrowser>,
    cards: &'static [Card],
    chosen: String,
    /// Why a cancel was refused, in the API's words.
    cancel_refused: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "order_complete.html")]
struct CompletePage {
    chrome: Chrome,
    order: OrderView,
    /// Why a cancel was refused (it was paid first), in the API's words.
    cancel_refused: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "order_cancelled.html")]
struct CancelledPage {
    chrome: Chrome,
    order: OrderView,
    /// Why nothing was charged, when a payment was just refused.
    not_charged: Option<&'static str>,
    /// Why a cancel was refused (already cancelled), in the API's words.
    cancel_refused: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "checkout_cancel.html")]
struct ConfirmCancelPage {
    chrome: Chrome,
    order: OrderView,
}

#[derive(Debug, Default, Deserialize)]
struct Shown {
    done: Option<String>,
    /// A refused cancel's code (see `common::cancel_refusal`).
    error: Option<String>,
}

async fn show(
    State(web): State<Web>,
    visitor: Visitor,
    PageId(id): PageId,
    PageQuery(shown): PageQuery<Shown>,
) -> Result<Response, Failure> {
    let order = fetch_order(&web, &visitor, &id, &order_path(&id, None)).await?;
    let done = Done::parse(shown.done.as_deref());
    let mut again = PayAgain {
        cancel_refused: cancel_refusal(shown.error.as_deref()),
        ..PayAgain::default()
    };
    if done == Some(Done::AuthFailed) {
        let view = OrderView::from_json(&order, &web.config.currency);
        let mut message = "Authentication failed. You were not charged".to_owned();
        if view.status == "created" {
            message.push_str(&format!(
                "; we hold {} for you until {}",
                view.these(),
                view.held_until()
            ));
        }
        message.push('.');
        again.errors = FormErrors::new(vec![Problem {
            message,
            field: Some("card".to_owned()),
        }]);
    }
    render(&web, &visitor, &order, done, again, StatusCode::OK)
}

/// What a refused pay form brings back to the checkout.
#[derive(Debug, Default)]
pub struct PayAgain {
    /// The provider's decline (or "Authentication failed"), shown beside the cards.
    pub errors: FormErrors,
    /// The card picked.
    pub chosen: Option<String>,
    /// The hold the refused form showed. A declined payment gives the order back its
    /// hold, but the order may still show the extended hold of the payment in flight for
    /// a moment; the page then keeps the earlier time, so a failed action never moves
    /// the countdown (UI.md §2.4). Only ever makes the shown hold shorter.
    pub hold_until: Option<OffsetDateTime>,
    /// A refused cancel's reason, shown on the order's page.
    pub cancel_refused: Option<&'static str>,
}

/// The order's page for its state; `again` re-shows a refused pay form (`status` 400).
pub fn render(
    web: &Web,
    visitor: &Visitor,
    order: &Value,
    done: Option<Done>,
    again: PayAgain,
    status: StatusCode,
) -> Result<Response, Failure> {
    let mut order = OrderView::from_json(order, &web.config.currency);
    match order.status.as_str() {
        "complete" => {
            let notice = done
                .filter(|done| done.paying())
                .map(|_| "Payment received".to_owned());
            let page = CompletePage {
                chrome: Chrome::new("Order confirmed", visitor).with_notice(notice),
                order,
                cancel_refused: again.cancel_refused,
            };
            html(StatusCode::OK, &page)
        }
        "cancelled" => {
            let not_charged = match done {
                Some(done) if done.paying() && order.expired() => {
                    Some("Your hold ended before payment; you were not charged.")
                }
                Some(Done::NotCharged) => {
                    Some("This order was cancelled before payment; you were not charged.")
                }
                _ => None,
            };
            let notice = (done == Some(Done::Cancelled)).then(|| "Order cancelled".to_owned());
            let page = CancelledPage {
                chrome: Chrome::new("Order cancelled", visitor).with_notice(notice),
                order,
                not_charged,
                cancel_refused: again.cancel_refused,
            };
            html(StatusCode::OK, &page)
        }
        _ => {
            let now = OffsetDateTime::now_utc();
            let declined = status == StatusCode::BAD_REQUEST;
            let awaiting = order.status == "awaiting:payment" && !declined;
            if declined && let (Some(shown), Some(at)) = (again.hold_until, order.expires_at) {
                order.expires_at = Some(at.min(shown));
            }
            // `processing`: the payment is still being decided, whatever the order
            // shows yet.
            let notice = done
                .filter(|&done| done == Done::Processing || (awaiting && done.paying()))
                .map(|_| "Payment in progress".to_owned());
            let page = CheckoutPage {
                chrome: Chrome::new("Checkout", visitor)
                    .with_notice(notice)
                    .with_error(declined),
                hold_ended: order.hold_ended(now),
                order,
                now: rfc3339(now),
                awaiting,
                recheck: awaiting && done == Some(Done::AuthFailed),
                errors: again.errors,
                idempotency_key: uuid::Uuid::now_v7().to_string(),
                test_payments: web.config.test_payments,
                stripe: web.config.stripe.clone(),
                cards: &CARDS,
                chosen: again.chosen.unwrap_or_else(|| CARDS[0].token.to_owned()),
                cancel_refused: again.cancel_refused,
            };
            html(status, &page)
        }
    }
}

/// `GET /orders/{id}/cancel`: "Cancel this order?" — a page, not a script's dialog.
async fn confirm_cancel(
    State(web): State<Web>,
    visitor: Visitor,
    PageId(id): PageId,
) -> Result<Response, Failure> {
    let next = format!("/orders/{id}/cancel");
    let order = fetch_order(&web, &visitor, &id, &next).await?;
    let order = OrderView::from_json(&order, &web.config.currency);
    if !order.is_open() {
        return Ok(Redirect::to(&order_path(&id, None)).into_response());
    }
    let page = ConfirmCancelPage {
        chrome: Chrome::new("Cancel this order?", &visitor),
        order,
    };
    html(StatusCode::OK, &page)
}

/// `POST /orders/{id}/cancel` → `DELETE /api/orders/{id}`. An order that can no longer be
/// cancelled (paid, already cancelled) shows its page, which says what it is and, from
/// the `?error=` code, why it was not cancelled.
async fn cancel(
    State(web): State<Web>,
    PageId(id): PageId,
    visitor: SignedIn,
) -> Result<Response, Failure> {
    let next = order_path(&id, None);
    let call = Call {
        session: visitor.session(),
        ..Call::default()
    };
    let reply = web
        .api
        .send(Method::DELETE, &format!("/api/orders/{id}"), call)
        .await?;
    if reply.is_success() {
        return Ok(Redirect::to(&order_path(&id, Some(Done::Cancelled))).into_response());
    }
    if reply.status == StatusCode::BAD_REQUEST {
        let code = cancel_refusal_code(&reply);
        return Ok(Redirect::to(&format!("{next}?error={code}")).into_response());
    }
    Err(Failure::from_reply(&reply, &next))
}
