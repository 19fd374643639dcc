//! Placing, reading and changing orders: the store keeps one holder per ticket, saves a
//! change with its events, records a consumer's claim once, and keeps dead letters.

use std::sync::Arc;

use boxoffice_common::new_id;
use boxoffice_orders::domain::{ALREADY_CANCELLED, CancelReason, OrderError, OrderStatus};
use boxoffice_orders::events::CONSUMER;
use boxoffice_platform::store::{Claim, Decision, Modified};

use crate::support::{
    Subject, cancel_change, complete_change, event, order, postgres, saved, sqlite, unsent,
};

boxoffice_platform::on_both_databases!(
    one_live_order_per_ticket_is_enforced_by_the_store,
    concurrent_orders_for_one_ticket_have_exactly_one_winner,
    orders_are_read_back_and_listed_per_buyer,
    a_change_is_saved_with_its_events_and_claimed_once,
    dead_letters_are_kept,
);

async fn one_live_order_per_ticket_is_enforced_by_the_store(s: Subject) {
    let ticket = new_id();
    let first = order(new_id(), ticket, 0);
    assert!(s.store.insert(&first, &event()).await.expect("insert"));
    let second = order(new_id(), ticket, 1);
    assert!(
        !s.store.insert(&second, &event()).await.expect("insert"),
        "the ticket is held"
    );
    assert_eq!(
        s.store.get(second.id).await.expect("get"),
        None,
        "nothing written"
    );
    assert_eq!(unsent(&s).await, 1);

    saved(
        s.store
            .modify(first.id, None, cancel_change())
            .await
            .expect("modify"),
    );
    assert!(
        s.store.insert(&second, &event()).await.expect("insert"),
        "free again after cancellation"
    );
    saved(
        s.store
            .modify(second.id, None, complete_change())
            .await
            .expect("modify"),
    );
    assert!(
        !s.store
            .insert(&order(new_id(), ticket, 2), &event())
            .await
            .expect("insert"),
        "a sold ticket stays sold"
    );
}

async fn concurrent_orders_for_one_ticket_have_exactly_one_winner(s: Subject) {
    let ticket = new_id();
    let attempts: Vec<_> = (0..20)
        .map(|i| {
            let store = Arc::clone(&s.store);
            tokio::spawn(async move { store.insert(&order(new_id(), ticket, i), &event()).await })
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

async fn orders_are_read_back_and_listed_per_buyer(s: Subject) {
    let (buyer, other) = (new_id(), new_id());
    let a = order(buyer, new_id(), 0);
    let b = order(buyer, new_id(), 5);
    let c = order(other, new_id(), 3);
    for o in [&b, &c, &a] {
        s.store.insert(o, &event()).await.expect("insert");
    }
    assert_eq!(s.store.get(a.id).await.expect("get"), Some(a.clone()));
    assert_eq!(
        s.store.for_user(buyer).await.expect("list"),
        vec![a, b],
        "oldest first"
    );
    assert_eq!(s.store.for_user(new_id()).await.expect("list"), vec![]);
    s.store.plumbing().ping().await.expect("ping");
}

async fn a_change_is_saved_with_its_events_and_claimed_once(s: Subject) {
    let o = order(new_id(), new_id(), 0);
    s.store.insert(&o, &event()).await.expect("insert");
    let claim = Claim {
        consumer: "test",
        event_id: new_id(),
    };
    let changed = saved(
        s.store
            .modify(o.id, Some(claim), cancel_change())
            .await
            .expect("modify"),
    );
    assert_eq!(
        (changed.status, changed.cancel_reason, changed.version),
        (OrderStatus::Cancelled, Some(CancelReason::User), 1)
    );
    assert_eq!(s.store.get(o.id).await.expect("get"), Some(changed));
    assert_eq!(unsent(&s).await, 2);
    let again = s
        .store
        .modify(o.id, Some(claim), cancel_change())
        .await
        .expect("modify");
    assert_eq!(again, Modified::Duplicate);
    let refused = s
        .store
        .modify(o.id, None, cancel_change())
        .await
        .expect("modify");
    assert_eq!(
        refused,
        Modified::Refused(OrderError::Refused(ALREADY_CANCELLED))
    );
    // A refusal writes nothing, not even the claim: the same event may be tried again.
    let retried = Claim {
        consumer: "test",
        event_id: new_id(),
    };
    let refused = s
        .store
        .modify(o.id, Some(retried), cancel_change())
        .await
        .expect("modify");
    assert!(matches!(refused, Modified::Refused(_)));
    let kept = s
        .store
        .modify(o.id, Some(retried), Box::new(|_| Ok(Decision::Keep)))
        .await
        .expect("modify");
    assert!(matches!(kept, Modified::Unchanged(_)), "{kept:?}");
    assert_eq!(unsent(&s).await, 2, "no event for a refusal or a keep");
    let missing = s
        .store
        .modify(new_id(), None, cancel_change())
        .await
        .expect("modify");
    assert_eq!(missing, Modified::Missing);
}

async fn dead_letters_are_kept(s: Subject) {
    let e = event();
    let plumbing = s.store.plumbing();
    plumbing.park(CONSUMER, &e, "poison").await.expect("park");
    assert_eq!(
        plumbing.dead_letters(CONSUMER).await.expect("read"),
        vec![(e, "poison".to_owned())]
    );
}
