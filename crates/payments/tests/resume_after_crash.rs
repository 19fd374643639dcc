//! Crash safety of authorize → decide → capture/void, on SQLite and PostgreSQL: a service
//! dropped between two steps and a new one started on the same store (a restart)
//! finishes what was left; a provider that fails a capture or void is asked again until
//! it agrees, and the processor's ledger shows each step happened once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use boxoffice_common::events::{PAYMENT_AUTHORIZED, PAYMENT_CREATED, PAYMENT_PENDING};
use boxoffice_common::{Id, OrderId, new_id};
use boxoffice_payments::domain::{OrderReplica, OrderState, PaymentStatus};
use boxoffice_payments::gateway::test_processor::TestProcessor;
use boxoffice_payments::gateway::{ChargeOutcome, ChargeRequest, Gateway, PaymentGateway};

#[path = "support/decide.rs"]
mod decide;
mod support;

use decide::{Answer, events, held, open_order, orders_answer, processor, read, record, service};
use support::{Subject, claim, postgres, sqlite};

boxoffice_platform::on_both_databases!(
    an_undecided_authorization_is_asked_again_or_decided_from_the_replica_after_a_restart,
    a_decided_capture_or_void_is_retried_until_the_provider_agrees_once,
);

/// The test processor, except that its first `failures` captures and voids fail.
#[derive(Debug)]
struct Flaky {
    inner: TestProcessor,
    failures: AtomicU32,
    calls: AtomicU32,
}

impl Flaky {
    fn fail(&self) -> anyhow::Result<()> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let failing = self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        anyhow::ensure!(!failing, "the provider is unreachable");
        Ok(())
    }
}

#[async_trait::async_trait]
impl PaymentGateway for Flaky {
    fn name(&self) -> &'static str {
        "flaky"
    }
    async fn authorize(&self, request: &ChargeRequest<'_>) -> anyhow::Result<ChargeOutcome> {
        self.inner.authorize(request).await
    }
    async fn capture(&self, provider_id: &str, payment_id: Id) -> anyhow::Result<()> {
        self.fail()?;
        self.inner.capture(provider_id, payment_id).await
    }
    async fn void(&self, provider_id: &str, payment_id: Id) -> anyhow::Result<()> {
        self.fail()?;
        self.inner.void(provider_id, payment_id).await
    }
    async fn refund(&self, provider_id: &str, payment_id: Id) -> anyhow::Result<()> {
        self.inner.refund(provider_id, payment_id).await
    }
}

async fn an_undecided_authorization_is_asked_again_or_decided_from_the_replica_after_a_restart(
    s: Subject,
) {
    let gateway = Gateway::TestProcessor(processor());
    let (buyer, order) = open_order(&s).await;
    let first = service(&s, gateway.clone(), Duration::ZERO);
    let authorized = first
        .pay(buyer, OrderId(order.id), "tok_visa")
        .await
        .expect("pay");
    assert_eq!(authorized.status, PaymentStatus::Authorized);
    drop(first); // the process stops before the orders service answered

    let restarted = service(&s, gateway, Duration::ZERO);
    // Not overdue yet: left alone.
    assert_eq!(
        restarted
            .resume(10, Duration::from_secs(3600))
            .await
            .expect("resume"),
        0
    );
    // Overdue, the order still open here: asked again.
    assert_eq!(
        restarted.resume(10, Duration::ZERO).await.expect("resume"),
        1
    );
    assert_eq!(
        events(&s).await,
        [PAYMENT_PENDING, PAYMENT_AUTHORIZED, PAYMENT_AUTHORIZED]
    );
    // The replica learnt that the order completed (its consumer's decision was lost):
    // the payment is decided from it and captured.
    let completed = OrderReplica {
        state: OrderState::Complete,
        version: 2,
        ..order.clone()
    };
    s.store
        .apply_order(claim(new_id()), &completed)
        .await
        .expect("replica");
    assert_eq!(
        restarted.resume(10, Duration::ZERO).await.expect("resume"),
        1
    );
    let captured = read(&s, authorized.id).await;
    assert_eq!(captured.status, PaymentStatus::Succeeded);
    assert_eq!(record(&captured), held(true, false, false));
    assert_eq!(
        restarted.resume(10, Duration::ZERO).await.expect("resume"),
        0,
        "nothing left"
    );
}

async fn a_decided_capture_or_void_is_retried_until_the_provider_agrees_once(s: Subject) {
    for answer in [Answer::Complete, Answer::Refuse] {
        let flaky = Arc::new(Flaky {
            inner: processor(),
            failures: AtomicU32::new(2),
            calls: AtomicU32::new(0),
        });
        let payments = service(&s, Gateway::External(flaky.clone()), Duration::ZERO);
        let (buyer, order) = open_order(&s).await;
        payments
            .pay(buyer, OrderId(order.id), "tok_visa")
            .await
            .expect("pay");
        let id = orders_answer(&payments, &s, &order, answer).await;
        let expected = match answer {
            Answer::Complete => (
                PaymentStatus::Capturing,
                PaymentStatus::Succeeded,
                held(true, false, false),
            ),
            Answer::Refuse => (
                PaymentStatus::Voiding,
                PaymentStatus::Voided,
                held(false, true, false),
            ),
        };
        assert_eq!(
            read(&s, id).await.status,
            expected.0,
            "decided, the provider failed"
        );
        drop(payments);

        let restarted = service(&s, Gateway::External(flaky.clone()), Duration::ZERO);
        assert_eq!(
            restarted
                .resume(10, Duration::from_secs(3600))
                .await
                .expect("resume"),
            0,
            "fails again"
        );
        assert_eq!(
            restarted
                .resume(10, Duration::from_secs(3600))
                .await
                .expect("resume"),
            1
        );
        let done = read(&s, id).await;
        assert_eq!(done.status, expected.1);
        assert_eq!(record(&done), expected.2);
        assert_eq!(
            restarted
                .resume(10, Duration::from_secs(3600))
                .await
                .expect("resume"),
            0
        );
        assert_eq!(flaky.calls.load(Ordering::SeqCst), 3);
    }
    let created = events(&s)
        .await
        .iter()
        .filter(|k| *k == PAYMENT_CREATED)
        .count();
    assert_eq!(created, 1, "the capture announced once");
}
