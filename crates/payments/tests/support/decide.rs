//! Shared by the authorize → decide → capture tests: a service on the subject's store,
//! an open order, and the test playing the orders service.
// Each test binary that includes this file uses a part of it.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use boxoffice_common::events::RefusalReason;
use boxoffice_common::{Id, SystemClock, UserId, new_id};
use boxoffice_payments::PaymentsService;
use boxoffice_payments::domain::{OrderReplica, OrderState, Payment, PaymentStatus};
use boxoffice_payments::gateway::Gateway;
use boxoffice_payments::gateway::ledger::{self, Record};
use boxoffice_payments::gateway::test_processor::TestProcessor;
use boxoffice_payments::store::PaymentKey;
use boxoffice_platform::Secret;

use super::support::{Subject, claim, replica};

pub const SECRET: &str = "whsec_test_authorize_capture";
/// Long enough for any decision in these tests; a wait that runs out fails them.
pub const WAIT: Duration = Duration::from_secs(10);

pub fn processor() -> TestProcessor {
    TestProcessor::new(Secret::new(SECRET))
}

pub fn service(s: &Subject, gateway: Gateway, wait: Duration) -> PaymentsService {
    PaymentsService::new(
        Arc::clone(&s.store),
        gateway,
        Arc::new(SystemClock),
        "usd".into(),
        Secret::new(SECRET),
    )
    .with_decision_wait(wait)
}

pub async fn open_order(s: &Subject) -> (UserId, OrderReplica) {
    let order = replica(new_id(), OrderState::Open, 0);
    s.store
        .apply_order(claim(new_id()), &order)
        .await
        .expect("replica");
    (UserId(order.user_id), order)
}

/// How the test's orders service answers.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    Complete,
    Refuse,
}

/// Plays the orders service: waits (bounded) for the order's payment to be authorized,
/// then answers as the orders consumer's events would arrive. The payment it answered.
pub async fn orders_answer(
    payments: &PaymentsService,
    s: &Subject,
    order: &OrderReplica,
    answer: Answer,
) -> Id {
    let deadline = tokio::time::Instant::now() + WAIT;
    let payment = loop {
        let active = s.store.payment(PaymentKey::ActiveForOrder(order.id)).await;
        if let Some(p) = active
            .expect("read")
            .filter(|p| p.status == PaymentStatus::Authorized)
        {
            break p;
        }
        assert!(tokio::time::Instant::now() < deadline, "never authorized");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    match answer {
        Answer::Complete => {
            let completed = OrderReplica {
                state: OrderState::Complete,
                version: order.version + 2,
                ..order.clone()
            };
            assert!(
                payments
                    .order_completed(claim(new_id()), &completed)
                    .await
                    .expect("completed")
            );
        }
        Answer::Refuse => {
            assert!(
                payments
                    .order_refused(claim(new_id()), payment.id, RefusalReason::Cancelled)
                    .await
                    .expect("refused")
            );
        }
    }
    payment.id
}

pub async fn events(s: &Subject) -> Vec<String> {
    let outbox = s.store.plumbing().outbox();
    let unsent = outbox.unsent_after(0, 100).await.expect("outbox");
    unsent.into_iter().map(|p| p.event.kind).collect()
}

pub async fn read(s: &Subject, id: Id) -> Payment {
    let found = s.store.payment(PaymentKey::Id(id)).await.expect("read");
    found.expect("payment")
}

/// The processor's record of the payment, checked to name its order; compared without.
pub fn record(payment: &Payment) -> Record {
    let provider_id = payment.provider_id.as_deref().expect("provider id");
    let record = ledger::records(provider_id).expect("a record");
    assert_eq!(record.order_id, Some(payment.order_id));
    Record {
        order_id: None,
        ..record
    }
}

pub fn held(captured: bool, voided: bool, refunded: bool) -> Record {
    Record {
        order_id: None,
        authorized: true,
        captured,
        voided,
        refunded,
    }
}
