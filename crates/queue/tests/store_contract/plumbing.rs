//! What the store gives the rest of the process: the change feed live feeds follow,
//! the outbox its relay reads, and the dead letters.

use std::time::Duration;

use boxoffice_common::{Id, TicketId, UserId, new_id};
use boxoffice_queue::events::QueueEvents;
use time::OffsetDateTime;

use crate::common::{Subject, TestClock, held, listed, redis, service, sqlite};

boxoffice_platform::on_each_subject!(
    [sqlite, redis]
    the_change_feed_names_changed_tickets,
    the_outbox_is_read_settled_republished_and_purged,
    parked_events_are_kept_with_their_reason,
);

async fn the_change_feed_names_changed_tickets(s: Subject) {
    let service = service(&s, TestClock::new());
    let events = QueueEvents::new(service.clone());
    let (ticket, _) = held(&events).await;
    let mut changes = s.store.changes();
    // Redis delivers the feed through pub/sub: join until the subscription is live.
    let received = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            service
                .join(UserId(new_id()), TicketId(ticket))
                .await
                .expect("join");
            if let Ok(Ok(id)) =
                tokio::time::timeout(Duration::from_millis(200), changes.recv()).await
            {
                return id;
            }
        }
    })
    .await
    .expect("a change in time");
    assert_eq!(received, ticket);
}

async fn the_outbox_is_read_settled_republished_and_purged(s: Subject) {
    let service = service(&s, TestClock::new());
    let events = QueueEvents::new(service.clone());
    for _ in 0..3 {
        let (ticket, _) = held(&events).await;
        service
            .join(UserId(new_id()), TicketId(ticket))
            .await
            .expect("join");
    }
    let outbox = s.store.plumbing().outbox();
    let pending = outbox.unsent_after(0, 100).await.expect("unsent");
    assert_eq!(pending.len(), 3);
    assert!(pending.windows(2).all(|w| w[0].seq < w[1].seq), "in order");
    let later = outbox
        .unsent_after(pending[0].seq, 100)
        .await
        .expect("unsent");
    assert_eq!(later.len(), 2, "after a position");

    let ids: Vec<Id> = pending.iter().map(|p| p.event.id).collect();
    let before = OffsetDateTime::now_utc() - time::Duration::seconds(1);
    outbox.mark_sent(&ids).await.expect("mark");
    assert!(
        outbox
            .unsent_after(0, 100)
            .await
            .expect("unsent")
            .is_empty()
    );

    assert_eq!(outbox.republish_since(before).await.expect("republish"), 3);
    let again = outbox.unsent_after(0, 100).await.expect("unsent");
    assert_eq!(again.iter().map(|p| p.event.id).collect::<Vec<_>>(), ids);

    outbox.mark_sent(&ids).await.expect("mark");
    assert_eq!(
        outbox
            .purge_sent(Duration::from_secs(3600))
            .await
            .expect("purge"),
        0
    );
    assert_eq!(outbox.purge_sent(Duration::ZERO).await.expect("purge"), 3);
    assert_eq!(outbox.republish_since(before).await.expect("republish"), 0);
}

async fn parked_events_are_kept_with_their_reason(s: Subject) {
    let event = listed(new_id(), new_id());
    s.store
        .plumbing()
        .park("queue", &event, "unreadable")
        .await
        .expect("park");
    s.store
        .plumbing()
        .park("queue", &event, "again")
        .await
        .expect("park twice");
    let letters = s
        .store
        .plumbing()
        .dead_letters("queue")
        .await
        .expect("letters");
    assert_eq!(letters.len(), 1);
    assert_eq!(
        (letters[0].0.id, letters[0].1.as_str()),
        (event.id, "unreadable")
    );
    assert!(
        s.store
            .plumbing()
            .dead_letters("other")
            .await
            .expect("letters")
            .is_empty()
    );
}
