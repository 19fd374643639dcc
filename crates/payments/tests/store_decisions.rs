//! The `PaymentStore`'s statements for authorize → decide → capture/void, on SQLite and
//! PostgreSQL: an authorization counts as the order's one active payment, an order's
//! decision is saved with its inbox claim and replica in one transaction, and unfinished
//! steps are found oldest first.

use boxoffice_common::{Money, new_id};
use boxoffice_payments::domain::{OrderState, Payment, PaymentStatus, Verdict};
use boxoffice_payments::store::{Decision, Modified, PaymentKey};
use time::OffsetDateTime;
use uuid::Uuid;

mod support;

use support::{Subject, claim, postgres, replica, sqlite};

boxoffice_platform::on_both_databases!(
    an_authorization_is_the_orders_one_active_payment,
    an_orders_decision_is_saved_with_its_claim_and_replica_once,
    a_decision_for_an_order_without_an_active_payment_still_keeps_the_replica,
    unfinished_steps_are_found_oldest_first,
);

fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_790_000_000 + seconds).expect("time")
}

fn payment(order_id: Uuid, status: PaymentStatus, created: i64) -> Payment {
    let id = new_id();
    Payment {
        id,
        order_id,
        user_id: new_id(),
        amount: Money::from_minor(2000),
        currency: "usd".into(),
        status,
        provider_id: Some(format!("pi_{}", id.simple())),
        client_secret: None,
        failure: None,
        created_at: at(created),
    }
}

async fn status(s: &Subject, id: Uuid) -> Option<PaymentStatus> {
    let found = s.store.payment(PaymentKey::Id(id)).await.expect("read");
    found.map(|p| p.status)
}

async fn an_authorization_is_the_orders_one_active_payment(s: Subject) {
    for held in [PaymentStatus::Authorized, PaymentStatus::Capturing] {
        let order = new_id();
        let first = payment(order, held, 0);
        assert!(s.store.insert_payment(&first, &[]).await.expect("insert"));
        let second = payment(order, PaymentStatus::Processing, 1);
        assert!(
            !s.store.insert_payment(&second, &[]).await.expect("insert"),
            "{held:?} holds the order"
        );
        let active = s.store.payment(PaymentKey::ActiveForOrder(order)).await;
        assert_eq!(active.expect("read").map(|p| p.id), Some(first.id));
    }
    for released in [PaymentStatus::Voiding, PaymentStatus::Voided] {
        let order = new_id();
        let first = payment(order, released, 0);
        assert!(s.store.insert_payment(&first, &[]).await.expect("insert"));
        let second = payment(order, PaymentStatus::Processing, 1);
        assert!(
            s.store.insert_payment(&second, &[]).await.expect("insert"),
            "{released:?} lets the order be paid again"
        );
    }
}

async fn an_orders_decision_is_saved_with_its_claim_and_replica_once(s: Subject) {
    let order = new_id();
    s.store
        .apply_order(claim(new_id()), &replica(order, OrderState::Open, 1))
        .await
        .expect("replica");
    let held = payment(order, PaymentStatus::Authorized, 0);
    assert!(s.store.insert_payment(&held, &[]).await.expect("insert"));
    let completed = replica(order, OrderState::Complete, 2);
    let event = new_id();

    let decided = s
        .store
        .decide_for_order(
            claim(event),
            &completed,
            Box::new(|p, order| {
                assert_eq!(order.map(|o| o.state), Some(OrderState::Complete));
                assert!(p.decide(Verdict::Capture));
                Ok(Decision::Save(vec![]))
            }),
        )
        .await
        .expect("decide");
    assert!(
        matches!(&decided, Modified::Saved(p) if p.status == PaymentStatus::Capturing),
        "{decided:?}"
    );
    assert_eq!(status(&s, held.id).await, Some(PaymentStatus::Capturing));
    assert_eq!(
        s.store.order(order).await.expect("read"),
        Some(completed.clone())
    );

    let again = s
        .store
        .decide_for_order(
            claim(event),
            &completed,
            Box::new(|_, _| panic!("a claimed event decides nothing")),
        )
        .await
        .expect("decide");
    assert_eq!(again, Modified::Duplicate);
}

async fn a_decision_for_an_order_without_an_active_payment_still_keeps_the_replica(s: Subject) {
    let order = new_id();
    s.store
        .apply_order(claim(new_id()), &replica(order, OrderState::Open, 0))
        .await
        .expect("replica");
    let completed = replica(order, OrderState::Complete, 1);
    let event = new_id();
    let outcome = s
        .store
        .decide_for_order(
            claim(event),
            &completed,
            Box::new(|_, _| panic!("no payment to decide")),
        )
        .await
        .expect("decide");
    assert_eq!(outcome, Modified::Missing);
    assert_eq!(s.store.order(order).await.expect("read"), Some(completed));
    let replayed = s
        .store
        .decide_for_order(
            claim(event),
            &replica(order, OrderState::Complete, 1),
            Box::new(|_, _| panic!("claimed")),
        )
        .await
        .expect("decide");
    assert_eq!(replayed, Modified::Duplicate, "the claim was kept");
}

async fn unfinished_steps_are_found_oldest_first(s: Subject) {
    let mut expected = Vec::new();
    for (i, status) in [
        PaymentStatus::Refunding,
        PaymentStatus::Voiding,
        PaymentStatus::Capturing,
        PaymentStatus::Authorized,
    ]
    .into_iter()
    .enumerate()
    {
        let p = payment(new_id(), status, 10 - i as i64);
        assert!(s.store.insert_payment(&p, &[]).await.expect("insert"));
        expected.push(p.id);
    }
    for done in [
        PaymentStatus::Succeeded,
        PaymentStatus::Voided,
        PaymentStatus::Failed,
        PaymentStatus::Refunded,
        PaymentStatus::Processing,
        PaymentStatus::RequiresAction,
    ] {
        let p = payment(new_id(), done, 0);
        assert!(s.store.insert_payment(&p, &[]).await.expect("insert"));
    }
    expected.reverse();
    let found: Vec<_> = s
        .store
        .unfinished(0, 10)
        .await
        .expect("unfinished")
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(found, expected);
    let page = |offset| s.store.unfinished(offset, 2);
    let first: Vec<_> = page(0)
        .await
        .expect("page")
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(first, expected[..2]);
    let rest: Vec<_> = page(2)
        .await
        .expect("page")
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(
        rest,
        expected[2..expected.len().min(4)],
        "the next page follows on"
    );
}
