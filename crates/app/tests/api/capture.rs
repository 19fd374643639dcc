//! Authorize, decide, then capture or void (CONTRACT.md §6), through the embedded app with
//! the test processor, whose ledger (`boxoffice_payments::gateway::ledger`) shows what
//! happened to the money.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{TestApp, eventually};
use crate::payments::{app, order_status, ordered, sign, webhook};

/// The test processor's records for an order.
fn records(order_id: &str) -> Vec<boxoffice_payments::gateway::ledger::Record> {
    let order = uuid::Uuid::parse_str(order_id).expect("uuid");
    boxoffice_payments::gateway::ledger::records_for_order(order)
}

async fn cancel(app: &TestApp, buyer: &crate::helpers::User, order_id: &str) {
    let cancel = app
        .send(app.as_user(buyer, Method::DELETE, &format!("/api/orders/{order_id}")))
        .await;
    assert_eq!(cancel.status, 204, "{}", cancel.body);
}

#[tokio::test]
async fn paying_right_after_ordering_answers_succeeded_and_the_payment_can_be_read_back() {
    let app = app().await;
    for _ in 0..5 {
        let (buyer, order_id, _) = ordered(&app).await;
        let paid = app.pay(&buyer, &order_id, "tok_visa").await;
        assert_eq!(paid.status, 201, "{}", paid.body);
        assert_eq!(paid.body["status"], "succeeded", "{}", paid.body);
        let id = paid.body["id"].as_str().expect("id");
        let [record] = records(&order_id)[..] else {
            panic!("one authorization: {:?}", records(&order_id));
        };
        assert!(record.authorized && record.captured && !record.voided && !record.refunded);

        let path = format!("/api/payments/{id}");
        let shown = app.send(app.as_user(&buyer, Method::GET, &path)).await;
        assert_eq!((shown.status, &shown.body), (200, &paid.body));
        let stranger = app.user().await;
        let theirs = app.send(app.as_user(&stranger, Method::GET, &path)).await;
        assert_eq!(theirs.status, 401);
        let unknown = format!("/api/payments/{}", uuid::Uuid::now_v7());
        assert_eq!(
            app.send(app.as_user(&buyer, Method::GET, &unknown))
                .await
                .status,
            404
        );
        assert_eq!(
            app.send(app.as_user(&buyer, Method::GET, "/api/payments/nope"))
                .await
                .status,
            404
        );
        assert_eq!(app.get(&path).await.status, 401, "anonymous");
        assert_eq!(order_status(&app, &buyer, &order_id).await, "complete");
    }
    app.assert_settled().await;
}

#[tokio::test]
async fn cancel_then_pay_at_once_is_refused_and_nothing_is_captured_or_refunded() {
    let app = app().await;
    for _ in 0..5 {
        let (buyer, order_id, _) = ordered(&app).await;
        // Let the payments service hear of the order, so the payment below reaches the
        // processor unless it has already heard of the cancellation too.
        let probe = app.pay(&buyer, &order_id, "tok_chargeDeclined").await;
        assert_eq!(probe.status, 400, "{}", probe.body);
        eventually("the order is payable again", || async {
            order_status(&app, &buyer, &order_id).await == "created"
        })
        .await;
        cancel(&app, &buyer, &order_id).await;
        let paid = app.pay(&buyer, &order_id, "tok_visa").await;
        assert_eq!(
            (paid.status, paid.body),
            (
                400,
                json!({"errors": [{"message": "Cannot pay for a cancelled order"}]})
            )
        );
        for record in records(&order_id) {
            assert!(!record.captured && !record.refunded, "{record:?}");
            assert!(
                !record.authorized || record.voided,
                "an authorization is voided: {record:?}"
            );
        }
        assert_eq!(order_status(&app, &buyer, &order_id).await, "cancelled");
    }
    app.assert_settled().await;
}

#[tokio::test]
async fn money_reported_for_a_voided_payment_is_refunded() {
    let app = crate::helpers::spawn_app_with(|settings| {
        settings.expiration_window_seconds = 1;
        settings.payment_hold_ceiling_seconds = 1;
    })
    .await;
    let (buyer, order_id, _) = ordered(&app).await;
    let action = app
        .pay(&buyer, &order_id, "tok_threeDSecure2Required")
        .await;
    assert_eq!(action.body["status"], "requires_action", "{}", action.body);
    let id = action.body["id"].as_str().expect("id").to_owned();
    let secret = action.body["clientSecret"]
        .as_str()
        .expect("secret")
        .to_owned();
    eventually("the order expires", || async {
        order_status(&app, &buyer, &order_id).await == "cancelled"
    })
    .await;
    let path = format!("/api/payments/{id}/authenticate");
    let voided = app
        .send(
            app.as_user(&buyer, Method::POST, &path)
                .json(&json!({"clientSecret": secret, "success": true})),
        )
        .await;
    assert_eq!(voided.body["status"], "voided", "{}", voided.body);

    // The provider reports money for it all the same: it goes back.
    let provider_id = format!(
        "pi_test_{}",
        uuid::Uuid::parse_str(&id).expect("uuid").simple()
    );
    let body = json!({
        "id": "evt_money_for_a_voided_payment",
        "type": "payment_intent.succeeded",
        "data": {"object": {"id": provider_id, "status": "succeeded"}},
    })
    .to_string();
    let now = time::OffsetDateTime::now_utc();
    assert_eq!(
        webhook(&app, &body, Some(sign(&body, now))).await.status,
        200
    );
    let shown = app
        .send(app.as_user(&buyer, Method::GET, &format!("/api/payments/{id}")))
        .await;
    assert_eq!(shown.body["status"], "refunded", "{}", shown.body);
    app.assert_settled().await;
}
