//! Every `OrderStore` method, and the orders consumer, on SQLite and PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use boxoffice_common::events::{ExpirationComplete, TicketCreated, TicketDeleted, TicketUpdated};
use boxoffice_common::{Money, SystemClock, new_id};
use boxoffice_orders::domain::{
    CancelReason, LineGate, Order, OrderStatus, OrderedTicket, TicketReplica,
};
use boxoffice_orders::events::{CONSUMER, OrdersEvents, SUBSCRIBES_TO};
use boxoffice_orders::store::{
    Claim, Decision, Modified, OrderStore, PostgresOrderStore, ReplicaDecision, ReplicaOutcome,
    SqliteOrderStore,
};
use boxoffice_platform::bus::{Envelope, EventBus, InProcessBus};
use boxoffice_platform::consumer::{self, EventHandler, Handled, RetryPolicy};
use boxoffice_platform::testing::{postgres_db, sqlite_db};
use time::OffsetDateTime;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// How far a payment in flight extends a hold, in these tests.
const CEILING: Duration = Duration::from_secs(600);

type Subject = boxoffice_platform::testing::Subject<dyn OrderStore>;

async fn sqlite() -> Subject {
    let (db, dir) = sqlite_db("orders").await.expect("sqlite");
    let store = SqliteOrderStore::open(db, Arc::new(Notify::new()))
        .await
        .expect("migrate");
    Subject::new(Arc::new(store), dir)
}

async fn postgres() -> Subject {
    let (pool, database) = postgres_db("boxoffice_orders").await.expect("postgres");
    let store = PostgresOrderStore::open(pool, Arc::new(Notify::new()))
        .await
        .expect("migrate");
    Subject::new(Arc::new(store), database)
}

boxoffice_platform::on_both_databases!(
    one_live_order_per_ticket_is_enforced_by_the_store,
    concurrent_orders_for_one_ticket_have_exactly_one_winner,
    orders_are_read_back_and_listed_per_buyer,
    a_change_is_saved_with_its_events_and_claimed_once,
    the_replica_applies_versions_in_order_only,
    versions_arriving_3_1_2_converge_through_the_consumer,
    a_duplicate_ticket_event_changes_nothing,
    a_late_expiry_never_touches_a_cancelled_or_completed_order,
    dead_letters_are_kept,
    the_newest_line_gate_is_kept_and_claimed_once,
);

fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_790_000_000 + seconds).expect("time")
}

fn order(buyer: Uuid, ticket: Uuid, created: i64) -> Order {
    Order {
        id: new_id(),
        user_id: buyer,
        ticket: OrderedTicket {
            id: ticket,
            title: "Concert".into(),
            price: Money::from_minor(2000),
            version: 0,
        },
        status: OrderStatus::Created,
        expires_at: at(created + 900),
        hold_until: at(created + 900),
        version: 0,
        created_at: at(created),
        cancel_reason: None,
    }
}

fn event() -> Envelope {
    Envelope::new(
        "orders",
        OffsetDateTime::now_utc(),
        &ExpirationComplete { order_id: new_id() },
    )
}

fn cancel_change() -> boxoffice_orders::store::Change {
    Box::new(|o: &mut Order| {
        let buyer = o.user_id;
        o.cancel_by(buyer)?;
        Ok(Decision::Save(vec![event()]))
    })
}

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
    assert_eq!(
        s.store
            .outbox()
            .unsent_after(0, 10)
            .await
            .expect("outbox")
            .len(),
        1
    );

    s.store
        .modify(first.id, None, cancel_change())
        .await
        .expect("modify")
        .expect("allowed");
    assert!(
        s.store.insert(&second, &event()).await.expect("insert"),
        "free again after cancellation"
    );
    s.store
        .modify(
            second.id,
            None,
            Box::new(|o: &mut Order| {
                o.status = OrderStatus::Complete;
                o.version += 1;
                Ok(Decision::Save(vec![]))
            }),
        )
        .await
        .expect("modify")
        .expect("allowed");
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
    s.store.ping().await.expect("ping");
}

async fn a_change_is_saved_with_its_events_and_claimed_once(s: Subject) {
    let o = order(new_id(), new_id(), 0);
    s.store.insert(&o, &event()).await.expect("insert");
    let claim = Claim {
        consumer: "test",
        event_id: new_id(),
    };
    let saved = s
        .store
        .modify(o.id, Some(claim), cancel_change())
        .await
        .expect("modify")
        .expect("ok");
    let Modified::Saved(saved) = saved else {
        panic!("expected a save")
    };
    assert_eq!(
        (saved.status, saved.cancel_reason, saved.version),
        (OrderStatus::Cancelled, Some(CancelReason::User), 1)
    );
    assert_eq!(s.store.get(o.id).await.expect("get"), Some(saved));
    assert_eq!(
        s.store
            .outbox()
            .unsent_after(0, 10)
            .await
            .expect("outbox")
            .len(),
        2
    );
    let again = s
        .store
        .modify(o.id, Some(claim), cancel_change())
        .await
        .expect("modify");
    assert_eq!(again, Ok(Modified::Duplicate));
    let refused = s
        .store
        .modify(o.id, None, cancel_change())
        .await
        .expect("modify");
    assert!(refused.is_err(), "already cancelled");
    let missing = s
        .store
        .modify(new_id(), None, cancel_change())
        .await
        .expect("modify");
    assert_eq!(missing, Ok(Modified::Missing));
}

fn replica(id: Uuid, version: i64, title: &str) -> TicketReplica {
    TicketReplica {
        id,
        title: title.into(),
        price: Money::from_minor(1000),
        user_id: Uuid::nil(),
        version,
        deleted: false,
    }
}

async fn the_replica_applies_versions_in_order_only(s: Subject) {
    let id = new_id();
    let claim = || Claim {
        consumer: "orders",
        event_id: new_id(),
    };
    let upsert = |r: TicketReplica| -> boxoffice_orders::store::ReplicaChange {
        Box::new(move |_| ReplicaDecision::Upsert(r))
    };
    assert_eq!(
        s.store
            .apply_to_replica(id, claim(), upsert(replica(id, 0, "v0")))
            .await
            .expect("apply"),
        ReplicaOutcome::Applied
    );
    assert_eq!(
        s.store.ticket(id).await.expect("read"),
        Some(replica(id, 0, "v0"))
    );

    let early = claim();
    let outcome = s
        .store
        .apply_to_replica(id, early, Box::new(|_| ReplicaDecision::NotYet))
        .await
        .expect("apply");
    assert_eq!(outcome, ReplicaOutcome::NotYet);
    // NotYet leaves the inbox alone: the redelivery of the same event can still apply.
    let outcome = s
        .store
        .apply_to_replica(id, early, upsert(replica(id, 1, "v1")))
        .await
        .expect("apply");
    assert_eq!(outcome, ReplicaOutcome::Applied);
    let outcome = s
        .store
        .apply_to_replica(id, early, upsert(replica(id, 1, "v1")))
        .await
        .expect("apply");
    assert_eq!(outcome, ReplicaOutcome::Duplicate);
    let kept = s
        .store
        .apply_to_replica(id, claim(), Box::new(|_| ReplicaDecision::Keep))
        .await
        .expect("apply");
    assert_eq!(kept, ReplicaOutcome::Kept);
    assert_eq!(
        s.store.ticket(id).await.expect("read"),
        Some(replica(id, 1, "v1"))
    );
}

fn ticket_event(id: Uuid, version: i64, title: &str) -> Envelope {
    let now = OffsetDateTime::now_utc();
    if version == 0 {
        Envelope::new(
            "tickets",
            now,
            &TicketCreated {
                id,
                version,
                title: title.into(),
                price: 1000,
                user_id: Uuid::nil(),
            },
        )
    } else {
        Envelope::new(
            "tickets",
            now,
            &TicketUpdated {
                id,
                version,
                title: title.into(),
                price: 1000,
                user_id: Uuid::nil(),
                order_id: None,
            },
        )
    }
}

async fn versions_arriving_3_1_2_converge_through_the_consumer(s: Subject) {
    let bus: Arc<dyn EventBus> = Arc::new(InProcessBus::new());
    let handler = Arc::new(OrdersEvents::new(
        Arc::clone(&s.store),
        Arc::new(SystemClock),
        CEILING,
    ));
    let policy = RetryPolicy {
        max_attempts: 50,
        first_backoff: Duration::from_millis(2),
        max_backoff: Duration::from_millis(20),
    };
    let stop = CancellationToken::new();
    let consumer = consumer::subscribe(
        Arc::clone(&bus),
        CONSUMER,
        SUBSCRIBES_TO,
        handler,
        policy,
    )
    .await
    .expect("subscribe");
    tokio::spawn(consumer.run(stop.clone()));

    let id = new_id();
    let mut receipts = Vec::new();
    for version in [0, 3, 1, 2] {
        receipts.push(
            bus.publish(&ticket_event(id, version, &format!("v{version}")))
                .await
                .expect("publish"),
        );
    }
    for receipt in receipts {
        tokio::time::timeout(Duration::from_secs(10), receipt)
            .await
            .expect("in time")
            .expect("handled");
    }
    let now = s.store.ticket(id).await.expect("read").expect("replica");
    assert_eq!((now.version, now.title.as_str()), (3, "v3"));
    assert!(
        s.store
            .dead_letters(CONSUMER)
            .await
            .expect("read")
            .is_empty()
    );

    // A deletion that arrives before the ticket is known waits for it, too.
    let later = new_id();
    let deleted = Envelope::new(
        "tickets",
        OffsetDateTime::now_utc(),
        &TicketDeleted {
            id: later,
            version: 1,
        },
    );
    let deleted_receipt = bus.publish(&deleted).await.expect("publish");
    bus.publish(&ticket_event(later, 0, "v0"))
        .await
        .expect("publish")
        .await
        .expect("handled");
    tokio::time::timeout(Duration::from_secs(10), deleted_receipt)
        .await
        .expect("in time")
        .expect("handled");
    assert!(
        s.store
            .ticket(later)
            .await
            .expect("read")
            .expect("replica")
            .deleted
    );
    stop.cancel();
}

async fn a_duplicate_ticket_event_changes_nothing(s: Subject) {
    let handler = OrdersEvents::new(Arc::clone(&s.store), Arc::new(SystemClock), CEILING);
    let id = new_id();
    let created = ticket_event(id, 0, "v0");
    let updated = ticket_event(id, 1, "v1");
    assert_eq!(
        handler.handle(&created).await.expect("handle"),
        Handled::Applied
    );
    assert_eq!(
        handler.handle(&updated).await.expect("handle"),
        Handled::Applied
    );
    for event in [&created, &updated, &created] {
        assert_eq!(
            handler.handle(event).await.expect("handle"),
            Handled::Ignored
        );
    }
    assert_eq!(
        s.store
            .ticket(id)
            .await
            .expect("read")
            .expect("replica")
            .version,
        1
    );
}

async fn a_late_expiry_never_touches_a_cancelled_or_completed_order(s: Subject) {
    let handler = OrdersEvents::new(Arc::clone(&s.store), Arc::new(SystemClock), CEILING);
    let ticket = new_id();
    let cancelled = order(new_id(), ticket, 0);
    s.store.insert(&cancelled, &event()).await.expect("insert");
    s.store
        .modify(cancelled.id, None, cancel_change())
        .await
        .expect("modify")
        .expect("ok");
    // A newer order holds the ticket now.
    let newer = order(new_id(), ticket, 1);
    assert!(s.store.insert(&newer, &event()).await.expect("insert"));
    s.store
        .modify(
            newer.id,
            None,
            Box::new(|o: &mut Order| {
                o.status = OrderStatus::Complete;
                o.version += 1;
                Ok(Decision::Save(vec![]))
            }),
        )
        .await
        .expect("modify")
        .expect("ok");
    let outbox_before = s
        .store
        .outbox()
        .unsent_after(0, 100)
        .await
        .expect("outbox")
        .len();

    for id in [cancelled.id, newer.id] {
        let late = Envelope::new(
            "expiration",
            OffsetDateTime::now_utc(),
            &ExpirationComplete { order_id: id },
        );
        assert_eq!(
            handler.handle(&late).await.expect("handle"),
            Handled::Ignored
        );
    }
    let old = s
        .store
        .get(cancelled.id)
        .await
        .expect("get")
        .expect("order");
    assert_eq!(
        (old.status, old.cancel_reason),
        (OrderStatus::Cancelled, Some(CancelReason::User))
    );
    assert_eq!(
        s.store
            .get(newer.id)
            .await
            .expect("get")
            .expect("order")
            .status,
        OrderStatus::Complete
    );
    assert_eq!(
        s.store
            .outbox()
            .unsent_after(0, 100)
            .await
            .expect("outbox")
            .len(),
        outbox_before,
        "no event"
    );

    let live = order(new_id(), new_id(), 2);
    s.store.insert(&live, &event()).await.expect("insert");
    let due = Envelope::new(
        "expiration",
        OffsetDateTime::now_utc(),
        &ExpirationComplete { order_id: live.id },
    );
    assert_eq!(
        handler.handle(&due).await.expect("handle"),
        Handled::Applied
    );
    assert_eq!(
        handler.handle(&due).await.expect("handle"),
        Handled::Ignored,
        "duplicate"
    );
    let expired = s.store.get(live.id).await.expect("get").expect("order");
    assert_eq!(
        (expired.status, expired.cancel_reason, expired.version),
        (OrderStatus::Cancelled, Some(CancelReason::Expired), 1)
    );
}

async fn dead_letters_are_kept(s: Subject) {
    let e = event();
    s.store.park(CONSUMER, &e, "poison").await.expect("park");
    assert_eq!(
        s.store.dead_letters(CONSUMER).await.expect("read"),
        vec![(e, "poison".to_owned())]
    );
}

async fn the_newest_line_gate_is_kept_and_claimed_once(s: Subject) {
    let ticket = new_id();
    let (first, second) = (new_id(), new_id());
    let listed = replica(ticket, 0, "Concert");
    let upsert = listed.clone();
    s.store
        .apply_to_replica(
            ticket,
            Claim {
                consumer: CONSUMER,
                event_id: new_id(),
            },
            Box::new(move |_| ReplicaDecision::Upsert(upsert)),
        )
        .await
        .expect("replica");
    // The ticket and its line come in one read; a ticket nobody queued for has no line.
    let line_of = |s: &Subject| {
        let store = Arc::clone(&s.store);
        let listed = listed.clone();
        async move {
            let (read, line) = store
                .ticket_with_line(ticket)
                .await
                .expect("read")
                .expect("the ticket");
            assert_eq!(read, listed);
            line
        }
    };
    assert_eq!(line_of(&s).await, None);
    assert_eq!(
        s.store.ticket_with_line(new_id()).await.expect("read"),
        None
    );
    let gate = |version: i64, waiting: u64, turn: Option<(Uuid, OffsetDateTime)>| LineGate {
        ticket_id: ticket,
        version,
        waiting,
        turn,
    };
    let claim = |event_id| Claim {
        consumer: CONSUMER,
        event_id,
    };
    let newest = gate(3, 2, Some((first, at(120))));
    let event = new_id();
    assert_eq!(
        s.store
            .apply_line_gate(claim(event), &newest)
            .await
            .expect("apply"),
        ReplicaOutcome::Applied
    );
    assert_eq!(
        s.store
            .apply_line_gate(claim(event), &gate(4, 0, None))
            .await
            .expect("apply"),
        ReplicaOutcome::Duplicate
    );
    assert_eq!(
        s.store
            .apply_line_gate(claim(new_id()), &gate(2, 1, None))
            .await
            .expect("apply"),
        ReplicaOutcome::Kept,
        "an older word arriving late changes nothing"
    );
    let kept = line_of(&s).await.expect("stored");
    assert_eq!(kept, newest);
    assert!(kept.admits(first, at(119)));
    assert!(!kept.admits(first, at(120)), "the turn is over");
    assert!(!kept.admits(second, at(0)), "not their turn");
    let next = gate(5, 1, Some((second, at(240))));
    s.store
        .apply_line_gate(claim(new_id()), &next)
        .await
        .expect("apply");
    assert_eq!(line_of(&s).await, Some(next));
}
