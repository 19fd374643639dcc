//! CONTRACT.md §6, row by row, with the built-in test processor; webhooks; no double
//! charge; refunds for late money.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Reply, TestApp, User, WEBHOOK_SECRET, eventually, spawn_app_with};

async fn app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// A seller's ticket ordered by a buyer; returns (buyer, order id, ticket id).
async fn ordered(app: &TestApp) -> (User, String, String) {
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

async fn order_status(app: &TestApp, user: &User, order_id: &str) -> String {
    app.order_of(user, order_id).await["status"]
        .as_str()
        .expect("status")
        .to_owned()
}

async fn webhook(app: &TestApp, body: &str, signature: Option<String>) -> Reply {
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

fn sign(body: &str, at: time::OffsetDateTime) -> String {
    boxoffice_payments::webhook::sign(WEBHOOK_SECRET, at, body.as_bytes())
}

#[tokio::test]
async fn paying_with_tok_visa_completes_the_order_and_sells_the_ticket() {
    let app = app().await;
    let (buyer, order_id, ticket_id) = ordered(&app).await;

    let reply = app.pay(&buyer, &order_id, "tok_visa").await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["status"], "succeeded");
    assert_eq!(reply.body["orderId"], order_id.as_str());
    assert!(uuid::Uuid::parse_str(reply.body["id"].as_str().expect("id")).is_ok());

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
    eventually("the payments service sees the cancellation", || async {
        app.pay(&buyer, &order_id, "tok_visa").await.body
            == json!({"errors": [{"message": "Cannot pay for a cancelled order"}]})
    })
    .await;
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
        json!({"id": payment_id, "orderId": order_id, "status": "succeeded"})
    );
    eventually("the order completes", || async {
        order_status(&app, &buyer, &order_id).await == "complete"
    })
    .await;
    eventually("the ticket is sold", || async {
        app.ticket(&ticket_id).await["status"] == "sold"
    })
    .await;
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
}

#[tokio::test]
async fn webhooks_need_a_valid_signature_and_take_effect_once() {
    let app = app().await;
    let (buyer, order_id, _) = ordered(&app).await;
    let reply = app
        .pay(&buyer, &order_id, "tok_threeDSecure2Required")
        .await;
    let payment_id = reply.body["id"].as_str().expect("id");
    eventually("the order waits for the payment", || async {
        order_status(&app, &buyer, &order_id).await == "awaiting:payment"
    })
    .await;
    let provider_id = format!(
        "pi_test_{}",
        uuid::Uuid::parse_str(payment_id).expect("uuid").simple()
    );
    let body = json!({
        "id": "evt_webhook_test_1",
        "type": "payment_intent.succeeded",
        "data": {"object": {"id": provider_id, "status": "succeeded"}},
    })
    .to_string();
    let now = time::OffsetDateTime::now_utc();

    let missing = webhook(&app, &body, None).await;
    assert_eq!(missing.status, 400);
    assert_eq!(missing.error_messages().len(), 1);
    let wrong_secret =
        boxoffice_payments::webhook::sign("whsec_someone_else", now, body.as_bytes());
    assert_eq!(webhook(&app, &body, Some(wrong_secret)).await.status, 400);
    let stale = sign(&body, now - time::Duration::minutes(6));
    assert_eq!(webhook(&app, &body, Some(stale)).await.status, 400);
    let tampered = body.replace("succeeded\"}", "succeeded\", \"amount\": 1}");
    assert_eq!(
        webhook(&app, &tampered, Some(sign(&body, now)))
            .await
            .status,
        400
    );
    assert_eq!(
        order_status(&app, &buyer, &order_id).await,
        "awaiting:payment",
        "nothing happened"
    );

    for _ in 0..5 {
        let delivered = webhook(&app, &body, Some(sign(&body, now))).await;
        assert_eq!(
            (delivered.status, delivered.body.clone()),
            (200, json!({"received": true}))
        );
    }
    eventually("the order completes", || async {
        order_status(&app, &buyer, &order_id).await == "complete"
    })
    .await;
    let order = app.order_of(&buyer, &order_id).await;
    // created 0 → awaiting:payment 1 → complete 2: completed exactly once.
    assert_eq!(order["version"], 2);

    let unknown =
        json!({"id": "evt_other", "type": "customer.created", "data": {"object": {}}}).to_string();
    assert_eq!(
        webhook(&app, &unknown, Some(sign(&unknown, now)))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn ten_concurrent_payments_for_one_order_charge_once() {
    let app = app().await;
    let (buyer, order_id, _) = ordered(&app).await;
    // Make sure the payments service knows the order before the race.
    let known = app.pay(&buyer, &order_id, "not-a-token").await;
    assert_eq!(known.status, 400, "{}", known.body);

    let attempts = (0..10).map(|i| {
        let mut request = app
            .as_user(&buyer, Method::POST, "/api/payments")
            .json(&json!({ "orderId": order_id, "token": "tok_visa" }));
        // Half share one key, half have their own.
        let key = if i % 2 == 0 {
            "shared-key".to_owned()
        } else {
            format!("own-key-{i}")
        };
        request = request.header("idempotency-key", key);
        app.send(request)
    });
    let replies = futures::future::join_all(attempts).await;

    let charged: std::collections::HashSet<&str> = replies
        .iter()
        .filter(|r| r.status == 201)
        .map(|r| r.body["id"].as_str().expect("id"))
        .collect();
    assert_eq!(charged.len(), 1, "one payment: {replies:?}");
    for reply in replies.iter().filter(|r| r.status != 201) {
        assert!(matches!(reply.status, 400 | 409), "{reply:?}");
    }
    eventually("the order completes", || async {
        order_status(&app, &buyer, &order_id).await == "complete"
    })
    .await;
    // 0 created → 1 awaiting → 2 created (the probe's decline) → 3 awaiting → 4 complete.
    assert_eq!(
        app.order_of(&buyer, &order_id).await["version"],
        4,
        "completed once"
    );
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_answer() {
    let app = app().await;
    let (buyer, order_id, _) = ordered(&app).await;
    let request = |token: &str, key: &str| {
        app.as_user(&buyer, Method::POST, "/api/payments")
            .header("idempotency-key", key)
            .json(&json!({ "orderId": order_id, "token": token }))
    };
    let keyed = |token: &str, key: &str| app.send(request(token, key));
    // Until the payments service knows the order it answers 404, which is not
    // remembered: retrying with the same key is how a client rides that out.
    let original = app
        .send_until_known(|| request("tok_visa", "retry-me"))
        .await;
    assert_eq!(original.status, 201, "{}", original.body);

    let replayed = keyed("tok_visa", "retry-me").await;
    assert_eq!(
        (replayed.status, &replayed.body),
        (201, &original.body),
        "the same payment, not a new one"
    );
    let different = keyed("tok_mastercard", "retry-me").await;
    assert_eq!(
        (different.status, different.body),
        (
            400,
            json!({"errors": [{"message": "Idempotency key reused with a different request"}]})
        )
    );
    let fresh_key = keyed("tok_visa", "another-key").await;
    assert_eq!(
        fresh_key.body,
        json!({"errors": [{"message": "Order has already been paid for"}]})
    );
    let too_long = keyed("tok_visa", &"k".repeat(256)).await;
    assert_eq!(too_long.status, 400);
}

#[tokio::test]
async fn money_arriving_after_expiry_is_refunded_and_the_ticket_stays_with_its_new_holder() {
    let app = spawn_app_with(|settings| {
        settings.expiration_window_seconds = 1;
        settings.payment_hold_ceiling_seconds = 1;
    })
    .await;
    let (buyer, order_id, ticket_id) = ordered(&app).await;
    let reply = app
        .pay(&buyer, &order_id, "tok_threeDSecure2Required")
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let secret = reply.body["clientSecret"]
        .as_str()
        .expect("client secret")
        .to_owned();
    let payment_id = reply.body["id"].as_str().expect("id").to_owned();

    eventually("the order expires while 3-D Secure is pending", || async {
        order_status(&app, &buyer, &order_id).await == "cancelled"
    })
    .await;
    let next_buyer = app.user().await;
    let next_order = app.order(&next_buyer, &ticket_id).await;
    assert_eq!(next_order.status, 201, "{}", next_order.body);
    let next_order_id: Value = next_order.body["id"].clone();

    let path = format!("/api/payments/{payment_id}/authenticate");
    let late = app
        .send(
            app.as_user(&buyer, Method::POST, &path)
                .json(&json!({"clientSecret": secret, "success": true})),
        )
        .await;
    assert_eq!(late.status, 200, "{}", late.body);
    assert_eq!(late.body["status"], "refunded");

    let order = app.order_of(&buyer, &order_id).await;
    assert_eq!(
        (order["status"].clone(), order["cancelReason"].clone()),
        (json!("cancelled"), json!("expired"))
    );
    eventually("the ticket is held by the new order", || async {
        let ticket = app.ticket(&ticket_id).await;
        ticket["status"] == "reserved" && ticket["orderId"] == next_order_id
    })
    .await;
}
