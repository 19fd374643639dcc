//! Payments that must not go wrong twice: signed webhooks taking effect once, concurrent
//! payments charging once, idempotent retries, and authorizations the order refused
//! voided, never captured.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{eventually, spawn_app_with};
use crate::payments::{app, order_status, ordered, sign, webhook};

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
    app.assert_settled().await;
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
    app.assert_settled().await;
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
    app.assert_settled().await;
}

#[tokio::test]
async fn an_authorization_after_expiry_is_voided_and_the_ticket_stays_with_its_new_holder() {
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
    assert_eq!(
        late.body["status"], "voided",
        "the orders service refused: the hold was released, nothing taken"
    );
    let order_uuid = uuid::Uuid::parse_str(&order_id).expect("uuid");
    let records = boxoffice_payments::gateway::ledger::records_for_order(order_uuid);
    assert_eq!(records.len(), 1, "{records:?}");
    assert!(
        records[0].authorized && records[0].voided && !records[0].captured && !records[0].refunded,
        "{records:?}"
    );

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
    app.assert_settled().await;
}
