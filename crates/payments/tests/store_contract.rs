//! The `PaymentStore`'s payments on SQLite and PostgreSQL: one active per order, found
//! by each key, changed once per trigger, refusals write nothing. The order replica and
//! the idempotency keys are in `store_replica_and_keys.rs`.

use std::sync::Arc;

use boxoffice_common::events::PaymentPending;
use boxoffice_common::{Money, new_id};
use boxoffice_payments::domain::{OrderState, Payment, PaymentError, PaymentStatus};
use boxoffice_payments::store::{Change, Decision, Modified, PaymentKey, Trigger};
use boxoffice_platform::bus::Envelope;
use time::OffsetDateTime;
use uuid::Uuid;

mod support;

use support::{Subject, claim, postgres, replica, sqlite};

boxoffice_platform::on_both_databases!(
    one_active_payment_per_order,
    concurrent_payments_for_one_order_have_one_winner,
    payments_are_found_by_id_provider_and_order,
    a_triggered_change_takes_effect_once,
    a_refused_change_writes_nothing_not_even_its_trigger,
);

fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_790_000_000 + seconds).expect("time")
}

fn payment(order_id: Uuid) -> Payment {
    Payment {
        id: new_id(),
        order_id,
        user_id: new_id(),
        amount: Money::from_minor(2000),
        currency: "usd".into(),
        status: PaymentStatus::Processing,
        provider_id: None,
        client_secret: None,
        failure: None,
        created_at: at(0),
    }
}

fn pending(p: &Payment) -> Envelope {
    Envelope::new(
        "payments",
        OffsetDateTime::now_utc(),
        &PaymentPending {
            id: p.id,
            order_id: p.order_id,
        },
    )
}

async fn one_active_payment_per_order(s: Subject) {
    let order = new_id();
    let first = payment(order);
    assert!(
        s.store
            .insert_payment(&first, &[pending(&first)])
            .await
            .expect("insert")
    );
    let second = payment(order);
    assert!(
        !s.store
            .insert_payment(&second, &[pending(&second)])
            .await
            .expect("insert")
    );
    assert_eq!(
        s.store
            .payment(PaymentKey::Id(second.id))
            .await
            .expect("read"),
        None
    );
    assert_eq!(
        s.store
            .plumbing()
            .outbox()
            .unsent_after(0, 10)
            .await
            .expect("outbox")
            .len(),
        1,
        "no event for the refused one"
    );

    s.store
        .modify(
            first.id,
            Trigger::Request,
            Box::new(|p: &mut Payment, _| {
                p.status = PaymentStatus::Failed;
                Ok(Decision::Save(vec![]))
            }),
        )
        .await
        .expect("update");
    assert!(
        s.store.insert_payment(&second, &[]).await.expect("insert"),
        "a failed payment frees the order"
    );
}

async fn concurrent_payments_for_one_order_have_one_winner(s: Subject) {
    let order = new_id();
    let attempts: Vec<_> = (0..10)
        .map(|_| {
            let store = Arc::clone(&s.store);
            tokio::spawn(async move { store.insert_payment(&payment(order), &[]).await })
        })
        .collect();
    let mut winners = 0;
    for attempt in attempts {
        if attempt.await.expect("task").expect("insert") {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
}

async fn payments_are_found_by_id_provider_and_order(s: Subject) {
    let order = new_id();
    let p = payment(order);
    s.store.insert_payment(&p, &[]).await.expect("insert");
    let saved = s
        .store
        .modify(
            p.id,
            Trigger::Request,
            Box::new(|p: &mut Payment, _| {
                p.provider_id = Some("pi_found".into());
                p.status = PaymentStatus::RequiresAction;
                p.client_secret = Some("pi_found_secret".into());
                Ok(Decision::Save(vec![]))
            }),
        )
        .await
        .expect("update");
    let Modified::Saved(saved) = saved else {
        panic!("expected a save")
    };
    assert_eq!(
        s.store.payment(PaymentKey::Id(p.id)).await.expect("read"),
        Some(saved.clone())
    );
    assert_eq!(
        s.store
            .payment(PaymentKey::ProviderId("pi_found"))
            .await
            .expect("read"),
        Some(saved.clone())
    );
    assert_eq!(
        s.store
            .payment(PaymentKey::ActiveForOrder(order))
            .await
            .expect("read"),
        Some(saved)
    );
    assert_eq!(
        s.store
            .payment(PaymentKey::ProviderId("pi_other"))
            .await
            .expect("read"),
        None
    );
    assert_eq!(
        s.store
            .payment(PaymentKey::ActiveForOrder(new_id()))
            .await
            .expect("read"),
        None
    );
}

async fn a_triggered_change_takes_effect_once(s: Subject) {
    let order = new_id();
    s.store
        .apply_order(claim(new_id()), &replica(order, OrderState::Open, 0))
        .await
        .expect("apply");
    let p = payment(order);
    s.store.insert_payment(&p, &[]).await.expect("insert");
    let succeed = || -> Change {
        Box::new(|p: &mut Payment, order| {
            assert_eq!(
                order.map(|o| o.state),
                Some(OrderState::Open),
                "the change sees the order"
            );
            if p.status == PaymentStatus::Succeeded {
                return Ok(Decision::Keep);
            }
            p.status = PaymentStatus::Succeeded;
            Ok(Decision::Save(vec![]))
        })
    };
    let webhook = Trigger::Webhook {
        event_id: "evt_once",
    };
    assert!(matches!(
        s.store
            .modify(p.id, webhook, succeed())
            .await
            .expect("update"),
        Modified::Saved(_)
    ));
    assert_eq!(
        s.store
            .modify(p.id, webhook, succeed())
            .await
            .expect("update"),
        Modified::Duplicate
    );
    assert!(
        !s.store.record_webhook("evt_once").await.expect("record"),
        "already recorded"
    );
    assert!(
        s.store
            .record_webhook("evt_unrelated")
            .await
            .expect("record")
    );

    let event = Trigger::Event(claim(new_id()));
    assert!(matches!(
        s.store
            .modify(p.id, event, succeed())
            .await
            .expect("update"),
        Modified::Unchanged(_)
    ));
    assert_eq!(
        s.store
            .modify(p.id, event, succeed())
            .await
            .expect("update"),
        Modified::Duplicate
    );
    assert_eq!(
        s.store
            .modify(new_id(), Trigger::Request, succeed())
            .await
            .expect("update"),
        Modified::Missing
    );
}

async fn a_refused_change_writes_nothing_not_even_its_trigger(s: Subject) {
    let p = payment(new_id());
    s.store.insert_payment(&p, &[]).await.expect("insert");
    let refusal = PaymentError::NoProviderId(p.id);
    let outcome = s
        .store
        .modify(
            p.id,
            Trigger::Webhook {
                event_id: "evt_refused",
            },
            Box::new(move |p: &mut Payment, _| {
                p.status = PaymentStatus::Refunded;
                Err(refusal)
            }),
        )
        .await
        .expect("modify");
    assert_eq!(outcome, Modified::Refused(refusal));
    assert_eq!(
        s.store.payment(PaymentKey::Id(p.id)).await.expect("read"),
        Some(p),
        "the payment is as it was"
    );
    assert!(
        s.store.record_webhook("evt_refused").await.expect("record"),
        "the webhook was not recorded, so the provider's retry is applied"
    );
}
