//! Authorize, decide, then capture or void — the use-cases below HTTP, with the test
//! processor, on SQLite and PostgreSQL. The orders service is played by the test: it
//! answers a payment's `payment:authorized` as the orders consumer would, through the
//! payments consumer's entry points (`order_completed`, `order_refused`). Crashes between
//! the steps are in `resume_after_crash.rs`.

use std::time::Duration;

use boxoffice_common::events::{
    PAYMENT_AUTHORIZED, PAYMENT_CREATED, PAYMENT_FAILED, PAYMENT_PENDING, PAYMENT_REFUNDED,
};
use boxoffice_common::{OrderId, PaymentId, UserId, new_id};
use boxoffice_payments::domain::{ORDER_CANCELLED, ORDER_PAID, PaymentStatus};
use boxoffice_payments::gateway::Gateway;
use boxoffice_payments::service::PaymentsError;
use boxoffice_payments::webhook;

#[path = "support/decide.rs"]
mod decide;
mod support;

use decide::{
    Answer, SECRET, WAIT, events, held, open_order, orders_answer, processor, read, record, service,
};
use support::{Subject, postgres, sqlite};

boxoffice_platform::on_both_databases!(
    a_card_payment_is_captured_once_the_order_completes,
    a_refused_payment_is_voided_and_never_captured,
    three_d_secure_ends_in_the_same_authorize_decide_capture_path,
    undecided_past_the_bound_answers_processing_and_the_decision_follows,
    money_reported_for_a_voided_payment_is_refunded,
    an_authorization_the_provider_cancels_fails_the_payment,
);

async fn a_card_payment_is_captured_once_the_order_completes(s: Subject) {
    let payments = service(&s, Gateway::TestProcessor(processor()), WAIT);
    let (buyer, order) = open_order(&s).await;
    let (paid, _) = tokio::join!(
        payments.pay(buyer, OrderId(order.id), "tok_visa"),
        orders_answer(&payments, &s, &order, Answer::Complete),
    );
    let paid = paid.expect("pay");
    assert_eq!(paid.status, PaymentStatus::Succeeded);
    assert_eq!(record(&paid), held(true, false, false));
    assert_eq!(
        events(&s).await,
        [PAYMENT_PENDING, PAYMENT_AUTHORIZED, PAYMENT_CREATED]
    );
    assert_eq!(payments.decisions().watched(), 0, "nobody waits any more");

    let again = payments.pay(buyer, OrderId(order.id), "tok_visa").await;
    assert!(matches!(again, Err(PaymentsError::Refused(m)) if m == ORDER_PAID));
}

async fn a_refused_payment_is_voided_and_never_captured(s: Subject) {
    let payments = service(&s, Gateway::TestProcessor(processor()), WAIT);
    let (buyer, order) = open_order(&s).await;
    let (paid, id) = tokio::join!(
        payments.pay(buyer, OrderId(order.id), "tok_visa"),
        orders_answer(&payments, &s, &order, Answer::Refuse),
    );
    assert!(matches!(paid, Err(PaymentsError::Refused(m)) if m == ORDER_CANCELLED));
    let voided = read(&s, id).await;
    assert_eq!(voided.status, PaymentStatus::Voided);
    assert_eq!(
        record(&voided),
        held(false, true, false),
        "voided, no capture, no refund"
    );
    assert_eq!(events(&s).await, [PAYMENT_PENDING, PAYMENT_AUTHORIZED]);
}

async fn three_d_secure_ends_in_the_same_authorize_decide_capture_path(s: Subject) {
    let payments = service(&s, Gateway::TestProcessor(processor()), WAIT);
    let (buyer, order) = open_order(&s).await;
    let waiting = payments
        .pay(buyer, OrderId(order.id), "tok_threeDSecure2Required")
        .await
        .expect("pay");
    assert_eq!(waiting.status, PaymentStatus::RequiresAction);
    let secret = waiting.client_secret.clone().expect("client secret");
    let (done, _) = tokio::join!(
        payments.authenticate(buyer, PaymentId(waiting.id), &secret, true),
        orders_answer(&payments, &s, &order, Answer::Complete),
    );
    let done = done.expect("authenticate");
    assert_eq!(done.status, PaymentStatus::Succeeded);
    assert_eq!(record(&done), held(true, false, false));
    assert_eq!(
        events(&s).await,
        [PAYMENT_PENDING, PAYMENT_AUTHORIZED, PAYMENT_CREATED]
    );
}

async fn undecided_past_the_bound_answers_processing_and_the_decision_follows(s: Subject) {
    let payments = service(
        &s,
        Gateway::TestProcessor(processor()),
        Duration::from_millis(50),
    );
    let (buyer, order) = open_order(&s).await;
    let pending = payments
        .pay(buyer, OrderId(order.id), "tok_visa")
        .await
        .expect("pay");
    assert_eq!(pending.status, PaymentStatus::Authorized);
    assert_eq!(pending.status.public(), "processing");
    assert_eq!(record(&pending), held(false, false, false));
    orders_answer(&payments, &s, &order, Answer::Complete).await;
    let later = payments
        .payment_of(buyer, PaymentId(pending.id))
        .await
        .expect("read");
    assert_eq!(later.status, PaymentStatus::Succeeded);
    let theirs = payments
        .payment_of(UserId(new_id()), PaymentId(pending.id))
        .await;
    assert!(matches!(theirs, Err(PaymentsError::NotOwner)));
}

async fn money_reported_for_a_voided_payment_is_refunded(s: Subject) {
    let payments = service(&s, Gateway::TestProcessor(processor()), WAIT);
    let (buyer, order) = open_order(&s).await;
    let (paid, id) = tokio::join!(
        payments.pay(buyer, OrderId(order.id), "tok_visa"),
        orders_answer(&payments, &s, &order, Answer::Refuse),
    );
    assert!(paid.is_err());
    let provider_id = read(&s, id).await.provider_id.expect("provider id");
    let body = serde_json::json!({
        "id": format!("evt_{}", new_id().simple()),
        "type": "payment_intent.succeeded",
        "data": {"object": {"id": provider_id, "status": "succeeded"}},
    })
    .to_string();
    let signature = webhook::sign(SECRET, time::OffsetDateTime::now_utc(), body.as_bytes());
    payments
        .receive_webhook(body.as_bytes(), Some(&signature))
        .await
        .expect("webhook");
    assert_eq!(read(&s, id).await.status, PaymentStatus::Refunded);
    assert!(events(&s).await.contains(&PAYMENT_REFUNDED.to_owned()));
}

async fn an_authorization_the_provider_cancels_fails_the_payment(s: Subject) {
    let payments = service(&s, Gateway::TestProcessor(processor()), Duration::ZERO);
    let (buyer, order) = open_order(&s).await;
    let authorized = payments
        .pay(buyer, OrderId(order.id), "tok_visa")
        .await
        .expect("pay");
    let body = serde_json::json!({
        "id": format!("evt_{}", new_id().simple()),
        "type": "payment_intent.canceled",
        "data": {"object": {"id": authorized.provider_id, "status": "canceled"}},
    })
    .to_string();
    let signature = webhook::sign(SECRET, time::OffsetDateTime::now_utc(), body.as_bytes());
    payments
        .receive_webhook(body.as_bytes(), Some(&signature))
        .await
        .expect("webhook");
    assert_eq!(read(&s, authorized.id).await.status, PaymentStatus::Failed);
    assert_eq!(
        events(&s).await.last().map(String::as_str),
        Some(PAYMENT_FAILED),
        "the order is given back"
    );
    // The order is payable again.
    let again = payments
        .pay(buyer, OrderId(order.id), "tok_visa")
        .await
        .expect("pay");
    assert_eq!(again.status, PaymentStatus::Authorized);
}
