//! The orders consumer (`OrdersEvents`) on each store: ticket versions converge whatever
//! their arrival order, a redelivered event changes nothing, and a late expiry leaves a
//! final order alone.

use std::sync::Arc;
use std::time::Duration;

use boxoffice_common::events::{ExpirationComplete, QueueLine, TicketDeleted};
use boxoffice_common::{SystemClock, new_id};
use boxoffice_orders::domain::{CancelReason, OrderStatus};
use boxoffice_orders::events::{CONSUMER, OrdersEvents, SUBSCRIBES_TO};
use boxoffice_platform::bus::{Envelope, EventBus, InProcessBus};
use boxoffice_platform::consumer::{self, EventHandler, Handled, RetryPolicy};
use boxoffice_platform::runtime::Supervisor;
use time::OffsetDateTime;

use crate::support::{
    CEILING, Subject, cancel_change, complete_change, event, no_waits, order, postgres, saved,
    sqlite, ticket_event, unsent,
};

boxoffice_platform::on_both_databases!(
    versions_arriving_3_1_2_converge_through_the_consumer,
    a_duplicate_ticket_event_changes_nothing,
    a_late_expiry_never_touches_a_cancelled_or_completed_order,
    a_queue_of_ticket_and_line_updates_in_one_group_ends_as_one_by_one,
);

async fn versions_arriving_3_1_2_converge_through_the_consumer(s: Subject) {
    let bus: Arc<dyn EventBus> = Arc::new(InProcessBus::new());
    let handler = Arc::new(OrdersEvents::new(
        Arc::clone(&s.store),
        Arc::new(SystemClock),
        CEILING,
        no_waits(),
    ));
    let policy = RetryPolicy {
        max_attempts: 50,
        first_backoff: Duration::from_millis(2),
        max_backoff: Duration::from_millis(20),
        dependency_patience: Duration::from_secs(60),
    };
    let supervisor = Supervisor::new();
    let consumer = consumer::subscribe(Arc::clone(&bus), CONSUMER, SUBSCRIBES_TO, handler, policy)
        .await
        .expect("subscribe");
    supervisor.spawn("consumer", consumer.run(supervisor.stopping()));

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
            .plumbing()
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
    supervisor
        .probe()
        .check()
        .await
        .expect("the consumer kept running");
    supervisor.shutdown().await;
}

async fn a_duplicate_ticket_event_changes_nothing(s: Subject) {
    let handler = OrdersEvents::new(
        Arc::clone(&s.store),
        Arc::new(SystemClock),
        CEILING,
        no_waits(),
    );
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
    let handler = OrdersEvents::new(
        Arc::clone(&s.store),
        Arc::new(SystemClock),
        CEILING,
        no_waits(),
    );
    let ticket = new_id();
    let cancelled = order(new_id(), ticket, 0);
    s.store.insert(&cancelled, &event()).await.expect("insert");
    saved(
        s.store
            .modify(cancelled.id, None, cancel_change())
            .await
            .expect("modify"),
    );
    // A newer order holds the ticket now.
    let newer = order(new_id(), ticket, 1);
    assert!(s.store.insert(&newer, &event()).await.expect("insert"));
    saved(
        s.store
            .modify(newer.id, None, complete_change())
            .await
            .expect("modify"),
    );
    let outbox_before = unsent(&s).await;

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
    assert_eq!(unsent(&s).await, outbox_before, "no event");

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

async fn a_queue_of_ticket_and_line_updates_in_one_group_ends_as_one_by_one(s: Subject) {
    let handler = OrdersEvents::new(
        Arc::clone(&s.store),
        Arc::new(SystemClock),
        CEILING,
        no_waits(),
    );
    let id = new_id();
    let line = |version| {
        Envelope::new(
            "queue",
            OffsetDateTime::now_utc(),
            &QueueLine {
                ticket_id: id,
                version,
                waiting: 3,
                turn: None,
            },
        )
    };
    let (v0, v1, v2) = (
        ticket_event(id, 0, "v0"),
        ticket_event(id, 1, "v1"),
        ticket_event(id, 2, "v2"),
    );
    let events = [
        v0.clone(),
        // Before its predecessor: deferred, its claim not recorded.
        v2.clone(),
        v1.clone(),
        // A redelivery in the same group, and an older line after a newer one.
        v0.clone(),
        line(2),
        line(1),
    ];
    let group: Vec<&Envelope> = events.iter().collect();
    assert_eq!(
        handler.handle_group(&group).await.expect("group"),
        [
            Handled::Applied,
            Handled::NotYet,
            Handled::Applied,
            Handled::Ignored,
            Handled::Applied,
            Handled::Ignored
        ]
    );
    let replica = s.store.ticket(id).await.expect("read").expect("replica");
    assert_eq!((replica.version, replica.title.as_str()), (1, "v1"));
    let (_, gate) = s
        .store
        .ticket_with_line(id)
        .await
        .expect("read")
        .expect("ticket");
    assert_eq!(gate.map(|gate| gate.version), Some(2));
    // The deferred version applies when it comes again; the rest are now duplicates.
    assert_eq!(
        handler.handle_group(&[&v2, &v1]).await.expect("again"),
        [Handled::Applied, Handled::Ignored]
    );
    let replica = s.store.ticket(id).await.expect("read").expect("replica");
    assert_eq!(replica.version, 2);
}
