//! The use-cases end to end below HTTP, with the test processor: 3-D Secure finished
//! through the signed-webhook path (and refused with any other provider), late money
//! returned — on SQLite and PostgreSQL. Authorize → decide → capture is in
//! `authorize_capture.rs`.

use std::sync::Arc;

use boxoffice_common::events::{PAYMENT_PENDING, PAYMENT_REFUNDED};
use boxoffice_common::{OrderId, PaymentId, SystemClock, UserId, new_id};
use boxoffice_payments::PaymentsService;
use boxoffice_payments::domain::{
    NOTHING_TO_AUTHENTICATE, OrderReplica, OrderState, PaymentStatus,
};
use boxoffice_payments::gateway::Gateway;
use boxoffice_payments::gateway::test_processor::TestProcessor;
use boxoffice_payments::service::PaymentsError;
use boxoffice_payments::store::PaymentKey;
use boxoffice_payments::webhook;
use boxoffice_platform::Secret;

mod support;

use support::{Subject, claim, postgres, replica, sqlite};

boxoffice_platform::on_both_databases!(
    three_d_secure_is_finished_through_the_signed_webhook_path,
    another_provider_leaves_authentication_to_the_browser,
    money_arriving_for_a_cancelled_order_is_returned,
);

const SECRET: &str = "whsec_test_service_flows";

fn service(s: &Subject, gateway: Gateway) -> PaymentsService {
    PaymentsService::new(
        Arc::clone(&s.store),
        gateway,
        Arc::new(SystemClock),
        "usd".into(),
        Secret::new(SECRET),
    )
    // Nobody plays the orders service here: answer without waiting for its decision
    // (`authorize_capture.rs` has the decisions).
    .with_decision_wait(std::time::Duration::ZERO)
}

fn test_processor() -> Gateway {
    Gateway::TestProcessor(TestProcessor::new(Secret::new(SECRET)))
}

async fn set_order(s: &Subject, order: &OrderReplica) {
    let claim = claim(new_id());
    s.store.apply_order(claim, order).await.expect("replica");
}

/// An open order, and its buyer.
async fn open_order(s: &Subject) -> (UserId, OrderReplica) {
    let order = replica(new_id(), OrderState::Open, 0);
    set_order(s, &order).await;
    (UserId(order.user_id), order)
}

/// The outbox's events, as (type, data).
async fn events(s: &Subject) -> Vec<(String, serde_json::Value)> {
    let outbox = s.store.plumbing().outbox();
    let pending = outbox.unsent_after(0, 100).await.expect("outbox");
    pending
        .into_iter()
        .map(|p| (p.event.kind, p.event.data))
        .collect()
}

fn refused(result: Result<impl std::fmt::Debug, PaymentsError>) -> String {
    match result {
        Err(PaymentsError::Refused(message)) => message,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn three_d_secure_is_finished_through_the_signed_webhook_path(s: Subject) {
    let payments = service(&s, test_processor());
    let (buyer, order) = open_order(&s).await;
    let waiting = payments
        .pay(buyer, OrderId(order.id), "tok_threeDSecure2Required")
        .await
        .expect("pay");
    assert_eq!(waiting.status, PaymentStatus::RequiresAction);
    let secret = waiting.client_secret.clone().expect("client secret");
    let id = PaymentId(waiting.id);

    let wrong = payments.authenticate(buyer, id, "pi_wrong", true).await;
    assert_eq!(refused(wrong), "Client secret does not match");
    let theirs = payments
        .authenticate(UserId(new_id()), id, &secret, true)
        .await;
    assert!(matches!(theirs, Err(PaymentsError::NotOwner)));
    let unknown = payments
        .authenticate(buyer, PaymentId(new_id()), &secret, true)
        .await;
    assert!(matches!(unknown, Err(PaymentsError::NotFound)));

    let done = payments
        .authenticate(buyer, id, &secret, true)
        .await
        .expect("authenticate");
    assert_eq!(
        done.status,
        PaymentStatus::Authorized,
        "held, the order's decision pending"
    );
    let twice = payments.authenticate(buyer, id, &secret, true).await;
    assert_eq!(refused(twice), NOTHING_TO_AUTHENTICATE);
}

async fn another_provider_leaves_authentication_to_the_browser(s: Subject) {
    // Charges like the test processor, but as any provider would: no server-side 3-D Secure.
    let external = Gateway::External(Arc::new(TestProcessor::new(Secret::new(SECRET))));
    let payments = service(&s, external);
    let (buyer, order) = open_order(&s).await;
    let waiting = payments
        .pay(buyer, OrderId(order.id), "tok_threeDSecure2Required")
        .await
        .expect("pay");
    let secret = waiting.client_secret.clone().expect("client secret");
    let id = PaymentId(waiting.id);
    let theirs = payments
        .authenticate(UserId(new_id()), id, &secret, true)
        .await;
    assert!(
        matches!(theirs, Err(PaymentsError::NotOwner)),
        "ownership is checked first, as before"
    );
    let mine = payments.authenticate(buyer, id, &secret, true).await;
    assert!(matches!(
        mine,
        Err(PaymentsError::AuthenticationUnsupported)
    ));
}

async fn money_arriving_for_a_cancelled_order_is_returned(s: Subject) {
    let payments = service(&s, test_processor());
    let (buyer, order) = open_order(&s).await;
    let waiting = payments
        .pay(buyer, OrderId(order.id), "tok_threeDSecure2Required")
        .await
        .expect("pay");
    let provider_id = waiting.provider_id.clone().expect("provider id");
    let cancelled = OrderReplica {
        state: OrderState::Cancelled,
        version: 1,
        ..order.clone()
    };
    set_order(&s, &cancelled).await;

    let body = serde_json::json!({
        "id": "evt_late_money",
        "type": "payment_intent.succeeded",
        "data": {"object": {"id": provider_id, "status": "succeeded"}},
    })
    .to_string();
    let signature = webhook::sign(SECRET, time::OffsetDateTime::now_utc(), body.as_bytes());
    for _ in 0..2 {
        payments
            .receive_webhook(body.as_bytes(), Some(&signature))
            .await
            .expect("webhook");
    }
    let refunded = s.store.payment(PaymentKey::Id(waiting.id)).await;
    let refunded = refunded.expect("read").expect("payment");
    assert_eq!(refunded.status, PaymentStatus::Refunded);
    let events = events(&s).await;
    let kinds: Vec<_> = events.iter().map(|(kind, _)| kind.as_str()).collect();
    assert_eq!(kinds, [PAYMENT_PENDING, PAYMENT_REFUNDED], "refunded once");
    assert_eq!(events[1].1["providerId"], provider_id.as_str());
}
