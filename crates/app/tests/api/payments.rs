//! CONTRACT.md §6, row by row, with the built-in test processor; webhooks; no double
//! charge; refunds for late money.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Reply, TestApp, User, WEBHOOK_SECRET, eventually, spawn_app_with};

pub(crate) async fn app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// A seller's ticket ordered by a buyer; returns (buyer, order id, ticket id).
pub(crate) async fn ordered(app: &TestApp) -> (User, String, String) {
    let seller = app.user().await;
    let buyer = app.user().await;
    let ticket = app.listed_ticket(&seller, "Concert", 20.0).await;
    let ticket_id = ticket["id"].as_str().expect("id").to_owned();
    let order = app.order(&buyer, &ticket_id).await;
    assert_eq!(order.status, 201, "{}", order.body);
    (
        buyer,
        order.body["id"].as_str().expect("id").to_owned(),
        ticket_id,
    )
}

pub(crate) async fn order_status(app: &TestApp, user: &User, order_id: &str) -> String {
    app.order_of(user, order_id).await["status"]
        .as_str()
        .expect("status")
        .to_owned()
}

pub(crate) async fn webhook(app: &TestApp, body: &str, signature: Option<String>) -> Reply {
    let mut request = app
        .client
        .post(app.url("/api/payments/webhook"))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(signature) = signature {
        request = request.header("stripe-signature", signature);
    }
    app.send(request).await
}

pub(crate) fn sign(body: &str, at: time::OffsetDateTime) -> String {
    boxoffice_payments::webhook::sign(WEBHOOK_SECRET, at, body.as_bytes())
}

#[tokio::test]
async fn paying_with_tok_visa_completes_the_order_and_sells_the_ticket() {
    let app = app().await;
    let (buyer, order_id, ticket_id) = ordered(&app).await;

    let reply = app.pay(&buyer, &order_id, "tok_visa").await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let payment_id = reply.body["id"].as_str().expect("id").to_owned();
    assert!(uuid::Uuid::parse_str(&payment_id).is_ok());
    assert_eq!(
        reply.body,
        json!({"id": payment_id, "orderId": order_id, "status": "succeeded", "clientSecret": null}),
        "captured before the answer; exactly the contract's keys"
    );

    eventually("the order completes", || async {
        order_status(&app, &buyer, &order_id).await == "complete"
    })
    .await;
    eventually("the ticket is sold", || async {
        app.ticket(&ticket_id).await["status"] == "sold"
    })
    .await;
    let listing = app.get("/api/tickets").await;
    assert_eq!(listing.body, json!([]), "sold tickets leave the listing");

    let again = app.pay(&buyer, &order_id, "tok_visa").await;
    assert_eq!(
        (again.status, again.body),
        (
            400,
            json!({"errors": [{"message": "Order has already been paid for"}]})
        )
    );
    let cancel = app
        .send(app.as_user(&buyer, Method::DELETE, &format!("/api/orders/{order_id}")))
        .await;
    assert_eq!(
        (cancel.status, cancel.body),
        (
            400,
            json!({"errors": [{"message": "Cannot cancel a completed order"}]})
        )
    );
    app.assert_settled().await;
}

#[tokio::test]
async fn paying_is_refused_with_the_contracts_messages() {
    let app = app().await;
    let (buyer, order_id, _) = ordered(&app).await;
    let stranger = app.user().await;

    let anonymous = app.post_json("/api/payments", &json!({})).await;
    assert_eq!(anonymous.status, 401);
    let empty = app
        .send(
            app.as_user(&buyer, Method::POST, "/api/payments")
                .json(&json!({})),
        )
        .await;
    assert_eq!(
        (empty.status, empty.body),
        (
            400,
            json!({"errors": [
                {"message": "Token is required", "field": "token"},
                {"message": "OrderId is required", "field": "orderId"},
            ]})
        )
    );
    let unknown =
        app.send(app.as_user(&buyer, Method::POST, "/api/payments").json(
            &json!({"orderId": "01a200aa-1a4b-7137-8f08-2f256ac1c1b4", "token": "tok_visa"}),
        ))
        .await;
    assert_eq!(unknown.status, 404);
    let theirs = app.pay(&stranger, &order_id, "tok_visa").await;
    assert_eq!(theirs.status, 401);

    let declined = app.pay(&buyer, &order_id, "tok_chargeDeclined").await;
    assert_eq!(
        (declined.status, declined.body),
        (
            400,
            json!({"errors": [{"message": "Your card was declined."}]})
        )
    );
    eventually("the order can be paid again", || async {
        order_status(&app, &buyer, &order_id).await == "created"
    })
    .await;

    let cancel = app
        .send(app.as_user(&buyer, Method::DELETE, &format!("/api/orders/{order_id}")))
        .await;
    assert_eq!(cancel.status, 204);
    let after = app.pay(&buyer, &order_id, "tok_visa").await;
    assert_eq!(
        (after.status, after.body),
        (
            400,
            json!({"errors": [{"message": "Cannot pay for a cancelled order"}]})
        ),
        "refused at once, whether the payments service had heard of the cancellation or not"
    );
    app.assert_settled().await;
}

#[tokio::test]
async fn three_d_secure_is_finished_through_the_signed_webhook_path() {
    let app = app().await;
    let (buyer, order_id, ticket_id) = ordered(&app).await;

    let reply = app
        .pay(&buyer, &order_id, "tok_threeDSecure2Required")
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["status"], "requires_action");
    let secret = reply.body["clientSecret"]
        .as_str()
        .expect("client secret")
        .to_owned();
    let payment_id = reply.body["id"].as_str().expect("id").to_owned();
    eventually("the order waits for the payment", || async {
        order_status(&app, &buyer, &order_id).await == "awaiting:payment"
    })
    .await;

    let path = format!("/api/payments/{payment_id}/authenticate");
    let wrong = app
        .send(
            app.as_user(&buyer, Method::POST, &path)
                .json(&json!({"clientSecret": "pi_wrong_secret", "success": true})),
        )
        .await;
    assert_eq!(wrong.status, 400);
    let stranger = app.user().await;
    let theirs = app
        .send(
            app.as_user(&stranger, Method::POST, &path)
                .json(&json!({"clientSecret": secret, "success": true})),
        )
        .await;
    assert_eq!(theirs.status, 401);

    let done = app
        .send(
            app.as_user(&buyer, Method::POST, &path)
                .json(&json!({"clientSecret": secret, "success": true})),
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(
        done.body,
        json!({"id": payment_id, "orderId": order_id, "status": "succeeded", "clientSecret": null})
    );
    eventually("the order completes", || async {
        order_status(&app, &buyer, &order_id).await == "complete"
    })
    .await;
    eventually("the ticket is sold", || async {
        app.ticket(&ticket_id).await["status"] == "sold"
    })
    .await;
    app.assert_settled().await;
}

#[tokio::test]
async fn failed_authentication_gives_the_order_back() {
    let app = app().await;
    let (buyer, order_id, _) = ordered(&app).await;
    let reply = app
        .pay(&buyer, &order_id, "tok_threeDSecure2Required")
        .await;
    let secret = reply.body["clientSecret"]
        .as_str()
        .expect("client secret")
        .to_owned();
    let path = format!(
        "/api/payments/{}/authenticate",
        reply.body["id"].as_str().expect("id")
    );
    let failed = app
        .send(
            app.as_user(&buyer, Method::POST, &path)
                .json(&json!({"clientSecret": secret, "success": false})),
        )
        .await;
    assert_eq!(
        (failed.status, failed.body["status"].clone()),
        (200, json!("failed"))
    );
    eventually("the order is payable again", || async {
        order_status(&app, &buyer, &order_id).await == "created"
    })
    .await;
    assert_eq!(app.pay(&buyer, &order_id, "tok_visa").await.status, 201);
    app.assert_settled().await;
}
