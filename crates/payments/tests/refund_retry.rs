//! A refund whose provider call fails stays `refunding` and is finished later by the retry,
//! exactly once — on SQLite and PostgreSQL.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use boxoffice_common::events::PAYMENT_REFUNDED;
use boxoffice_common::{Id, OrderId, SystemClock, new_id};
use boxoffice_payments::domain::{OrderState, Payment, PaymentStatus};
use boxoffice_payments::gateway::test_processor::TestProcessor;
use boxoffice_payments::gateway::{ChargeOutcome, ChargeRequest, Gateway, PaymentGateway};
use boxoffice_payments::store::PaymentKey;
use boxoffice_payments::{Config, PaymentsService};
use boxoffice_platform::Secret;
use boxoffice_platform::runtime::{Stage, Supervisor};
use time::OffsetDateTime;
use tokio::sync::Notify;

mod support;

use support::{Subject, claim, postgres, replica, sqlite};

boxoffice_platform::on_both_databases!(
    a_failed_refund_is_retried_until_it_goes_through_once,
    the_background_retrier_finishes_a_stuck_refund,
);

/// The test processor, except that its first `failures` refunds fail.
#[derive(Debug)]
struct FlakyRefunds {
    inner: TestProcessor,
    failures: AtomicU32,
    refund_calls: AtomicU32,
}

#[async_trait::async_trait]
impl PaymentGateway for FlakyRefunds {
    fn name(&self) -> &'static str {
        "flaky-refunds"
    }

    async fn authorize(&self, request: &ChargeRequest<'_>) -> anyhow::Result<ChargeOutcome> {
        self.inner.authorize(request).await
    }

    async fn capture(&self, provider_id: &str, payment_id: Id) -> anyhow::Result<()> {
        self.inner.capture(provider_id, payment_id).await
    }

    async fn void(&self, provider_id: &str, payment_id: Id) -> anyhow::Result<()> {
        self.inner.void(provider_id, payment_id).await
    }

    async fn refund(&self, provider_id: &str, payment_id: Id) -> anyhow::Result<()> {
        self.refund_calls.fetch_add(1, Ordering::SeqCst);
        let failing = self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(1)
            })
            .is_ok();
        anyhow::ensure!(!failing, "the provider is unreachable");
        self.inner.refund(provider_id, payment_id).await
    }
}

/// A succeeded payment for an order that has just been cancelled, and a service whose
/// provider fails the first `failures` refunds.
async fn paid_then_cancelled(
    s: &Subject,
    failures: u32,
) -> (PaymentsService, Arc<FlakyRefunds>, Payment) {
    let secret = Secret::new("whsec_test_refund_retry");
    let gateway = Arc::new(FlakyRefunds {
        inner: TestProcessor::new(secret.clone()),
        failures: AtomicU32::new(failures),
        refund_calls: AtomicU32::new(0),
    });
    let service = PaymentsService::new(
        Arc::clone(&s.store),
        Gateway::External(gateway.clone()),
        Arc::new(SystemClock),
        "usd".into(),
        secret,
    );
    let order_id = new_id();
    let order = replica(order_id, OrderState::Cancelled, 1);
    s.store
        .apply_order(claim(new_id()), &order)
        .await
        .expect("replica");
    let payment = Payment {
        id: new_id(),
        order_id,
        user_id: order.user_id,
        amount: order.amount,
        currency: "usd".into(),
        status: PaymentStatus::Succeeded,
        provider_id: Some("pi_test_refund".into()),
        client_secret: None,
        failure: None,
        created_at: OffsetDateTime::now_utc(),
    };
    assert!(s.store.insert_payment(&payment, &[]).await.expect("insert"));
    (service, gateway, payment)
}

async fn status(s: &Subject, payment: &Payment) -> PaymentStatus {
    s.store
        .payment(PaymentKey::Id(payment.id))
        .await
        .expect("read")
        .expect("payment")
        .status
}

async fn refunded_events(s: &Subject) -> usize {
    s.store
        .plumbing()
        .outbox()
        .unsent_after(0, 100)
        .await
        .expect("outbox")
        .iter()
        .filter(|p| p.event.kind == PAYMENT_REFUNDED)
        .count()
}

async fn a_failed_refund_is_retried_until_it_goes_through_once(s: Subject) {
    let (service, gateway, payment) = paid_then_cancelled(&s, 2).await;

    let closed = service
        .order_closed(OrderId(payment.order_id), OrderState::Cancelled)
        .await;
    assert!(closed.is_err(), "the provider failed");
    assert_eq!(status(&s, &payment).await, PaymentStatus::Refunding);
    let stuck = s.store.unfinished(0, 10).await.expect("refunding");
    assert_eq!(stuck.iter().map(|p| p.id).collect::<Vec<_>>(), [payment.id]);

    assert_eq!(
        service.resume(10, Duration::ZERO).await.expect("retry"),
        0,
        "fails again"
    );
    assert_eq!(status(&s, &payment).await, PaymentStatus::Refunding);
    assert_eq!(service.resume(10, Duration::ZERO).await.expect("retry"), 1);
    assert_eq!(status(&s, &payment).await, PaymentStatus::Refunded);
    assert!(
        s.store
            .unfinished(0, 10)
            .await
            .expect("refunding")
            .is_empty()
    );
    assert_eq!(
        service.resume(10, Duration::ZERO).await.expect("retry"),
        0,
        "nothing left"
    );
    assert_eq!(gateway.refund_calls.load(Ordering::SeqCst), 3);
    assert_eq!(refunded_events(&s).await, 1, "announced once");
}

/// Through the service's entry point: its `payment resumer` task, run by a supervisor as
/// a process would, finishes the refund on its own and is still running afterwards.
async fn the_background_retrier_finishes_a_stuck_refund(s: Subject) {
    let (service, gateway, payment) = paid_then_cancelled(&s, 1).await;
    assert!(
        service
            .order_closed(OrderId(payment.order_id), OrderState::Cancelled)
            .await
            .is_err()
    );
    let config = Config {
        gateway: Gateway::External(gateway),
        currency: "usd".into(),
        webhook_secret: Secret::new("whsec_test_refund_retry"),
        resume_every: Duration::from_millis(20),
        decision_wait: Duration::from_millis(20),
    };
    let parts = boxoffice_payments::parts(
        Arc::clone(&s.store),
        Arc::new(Notify::new()),
        Arc::new(SystemClock),
        config,
        boxoffice_platform::fresh::FreshIds::new("payments", Duration::ZERO),
    );
    let supervisor = Supervisor::new();
    for (name, start) in parts.tasks {
        supervisor.supervise(name, Stage::Timers, start);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while status(&s, &payment).await != PaymentStatus::Refunded {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the refund was never finished"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    supervisor
        .probe()
        .check()
        .await
        .expect("the retrier keeps running");
    supervisor.shutdown().await;
    assert_eq!(refunded_events(&s).await, 1);
}
