//! Every `PaymentStore` method on SQLite and PostgreSQL.

use std::sync::Arc;

use boxoffice_common::events::PaymentPending;
use boxoffice_common::{Money, new_id};
use boxoffice_payments::domain::{OrderReplica, OrderState, Payment, PaymentStatus};
use boxoffice_payments::store::{Decision, Modified, ReplicaOutcome, Trigger};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::idempotency::KeyState;
use time::OffsetDateTime;
use uuid::Uuid;

mod support;

use support::{Subject, postgres, sqlite};

boxoffice_platform::on_both_databases!(
    the_order_replica_keeps_the_newest_version,
    one_active_payment_per_order,
    concurrent_payments_for_one_order_have_one_winner,
    payments_are_found_by_id_provider_and_order,
    a_triggered_change_takes_effect_once,
    idempotency_keys_replay_refuse_or_wait,
);

fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_790_000_000 + seconds).expect("time")
}

fn replica(id: Uuid, state: OrderState, version: i64) -> OrderReplica {
    OrderReplica {
        id,
        user_id: Uuid::nil(),
        amount: Money::from_minor(2000),
        state,
        version,
    }
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

async fn the_order_replica_keeps_the_newest_version(s: Subject) {
    let id = new_id();
    let event = new_id();
    assert_eq!(
        s.store
            .apply_order("payments", event, &replica(id, OrderState::Open, 0))
            .await
            .expect("apply"),
        ReplicaOutcome::Applied
    );
    assert_eq!(
        s.store
            .apply_order("payments", event, &replica(id, OrderState::Open, 0))
            .await
            .expect("apply"),
        ReplicaOutcome::Duplicate
    );
    assert_eq!(
        s.store
            .apply_order("payments", new_id(), &replica(id, OrderState::Cancelled, 3))
            .await
            .expect("apply"),
        ReplicaOutcome::Applied
    );
    assert_eq!(
        s.store
            .apply_order("payments", new_id(), &replica(id, OrderState::Open, 1))
            .await
            .expect("apply"),
        ReplicaOutcome::Stale
    );
    assert_eq!(
        s.store.order(id).await.expect("read"),
        Some(replica(id, OrderState::Cancelled, 3))
    );
    assert_eq!(s.store.order(new_id()).await.expect("read"), None);
    s.store.ping().await.expect("ping");
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
    assert_eq!(s.store.payment(second.id).await.expect("read"), None);
    assert_eq!(
        s.store
            .outbox()
            .unsent_after(0, 10)
            .await
            .expect("outbox")
            .len(),
        1,
        "no event for the refused one"
    );

    s.store
        .update_payment(
            first.id,
            Trigger::Request,
            Box::new(|p: &mut Payment, _| {
                p.status = PaymentStatus::Failed;
                Decision::Save(vec![])
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
        .update_payment(
            p.id,
            Trigger::Request,
            Box::new(|p: &mut Payment, _| {
                p.provider_id = Some("pi_found".into());
                p.status = PaymentStatus::RequiresAction;
                p.client_secret = Some("pi_found_secret".into());
                Decision::Save(vec![])
            }),
        )
        .await
        .expect("update");
    let Modified::Saved(saved) = saved else {
        panic!("expected a save")
    };
    assert_eq!(
        s.store.payment(p.id).await.expect("read"),
        Some(saved.clone())
    );
    assert_eq!(
        s.store.payment_by_provider("pi_found").await.expect("read"),
        Some(saved.clone())
    );
    assert_eq!(
        s.store.active_payment(order).await.expect("read"),
        Some(saved)
    );
    assert_eq!(
        s.store.payment_by_provider("pi_other").await.expect("read"),
        None
    );
    assert_eq!(s.store.active_payment(new_id()).await.expect("read"), None);
}

async fn a_triggered_change_takes_effect_once(s: Subject) {
    let order = new_id();
    s.store
        .apply_order("payments", new_id(), &replica(order, OrderState::Open, 0))
        .await
        .expect("apply");
    let p = payment(order);
    s.store.insert_payment(&p, &[]).await.expect("insert");
    let succeed = || -> boxoffice_payments::store::Change {
        Box::new(|p: &mut Payment, order| {
            assert_eq!(
                order.map(|o| o.state),
                Some(OrderState::Open),
                "the change sees the order"
            );
            if p.status == PaymentStatus::Succeeded {
                return Decision::Keep;
            }
            p.status = PaymentStatus::Succeeded;
            Decision::Save(vec![])
        })
    };
    let webhook = Trigger::Webhook {
        event_id: "evt_once",
    };
    assert!(matches!(
        s.store
            .update_payment(p.id, webhook, succeed())
            .await
            .expect("update"),
        Modified::Saved(_)
    ));
    assert_eq!(
        s.store
            .update_payment(p.id, webhook, succeed())
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

    let event = Trigger::Event {
        consumer: "payments",
        event_id: new_id(),
    };
    assert!(matches!(
        s.store
            .update_payment(p.id, event, succeed())
            .await
            .expect("update"),
        Modified::Unchanged(_)
    ));
    assert_eq!(
        s.store
            .update_payment(p.id, event, succeed())
            .await
            .expect("update"),
        Modified::Duplicate
    );
    assert_eq!(
        s.store
            .update_payment(new_id(), Trigger::Request, succeed())
            .await
            .expect("update"),
        Modified::Missing
    );
}

async fn idempotency_keys_replay_refuse_or_wait(s: Subject) {
    let user = new_id();
    let now = at(0);
    assert_eq!(
        s.store
            .idempotency()
            .claim_key(user, "k1", "hash-a", now)
            .await
            .expect("claim"),
        KeyState::Fresh
    );
    assert_eq!(
        s.store
            .idempotency()
            .claim_key(user, "k1", "hash-a", now)
            .await
            .expect("claim"),
        KeyState::InProgress
    );
    assert_eq!(
        s.store
            .idempotency()
            .claim_key(user, "k1", "hash-b", now)
            .await
            .expect("claim"),
        KeyState::Mismatch
    );
    assert_eq!(
        s.store
            .idempotency()
            .claim_key(new_id(), "k1", "hash-b", now)
            .await
            .expect("claim"),
        KeyState::Fresh,
        "keys are per user"
    );

    s.store
        .idempotency()
        .finish_key(user, "k1", 201, r#"{"id":"p1"}"#)
        .await
        .expect("finish");
    assert_eq!(
        s.store
            .idempotency()
            .claim_key(user, "k1", "hash-a", now)
            .await
            .expect("claim"),
        KeyState::Replay {
            status: 201,
            body: r#"{"id":"p1"}"#.into()
        }
    );
    let a_day_later = now + time::Duration::hours(25);
    assert_eq!(
        s.store
            .idempotency()
            .claim_key(user, "k1", "hash-b", a_day_later)
            .await
            .expect("claim"),
        KeyState::Fresh,
        "expired keys are forgotten"
    );

    assert_eq!(
        s.store
            .idempotency()
            .claim_key(user, "k2", "hash-a", now)
            .await
            .expect("claim"),
        KeyState::Fresh
    );
    s.store
        .idempotency()
        .release_key(user, "k2")
        .await
        .expect("release");
    assert_eq!(
        s.store
            .idempotency()
            .claim_key(user, "k2", "hash-a", now)
            .await
            .expect("claim"),
        KeyState::Fresh,
        "released keys can be used again"
    );
}
