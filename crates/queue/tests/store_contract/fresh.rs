//! Joining the line of a ticket listed moments ago: the join waits (bounded) for the
//! queue to hear of the ticket, woken by the store's change feed, and then answers as
//! it would have — never 404 for a ticket the client was just shown. An old unknown
//! ticket is answered at once.

use std::sync::Arc;
use std::time::Duration;

use boxoffice_common::{TicketId, UserId, new_id};
use boxoffice_platform::consumer::{EventHandler, Handled};
use boxoffice_platform::fresh::FreshIds;
use boxoffice_platform::runtime::Supervisor;
use boxoffice_queue::domain::{QueueError, Rules, TICKET_AVAILABLE};
use boxoffice_queue::events::QueueEvents;
use boxoffice_queue::service::{QueueService, QueueServiceError};
use uuid::Uuid;

use crate::common::{Subject, TURN, TestClock, listed, redis, sqlite};

boxoffice_platform::on_each_subject!(
    [sqlite, redis]
    a_join_for_a_fresh_ticket_waits_for_its_listing,
    an_old_or_made_up_ticket_is_not_found_at_once,
);

/// Long enough never to be reached here: a join that returns was woken.
const BOUND: Duration = Duration::from_secs(60);

/// The service with its fresh-ticket waker running, as `parts` runs it.
fn waking_service(s: &Subject, supervisor: &Supervisor) -> (QueueService, FreshIds) {
    let fresh = FreshIds::new("queue", BOUND);
    let rules = Rules { turn: TURN };
    let service = QueueService::new(Arc::clone(&s.store), TestClock::new(), rules, fresh.clone());
    let changes = s.store.changes();
    let waker = service.clone();
    let stop = supervisor.stopping();
    supervisor.spawn("fresh-ticket-waker", async move {
        waker.wake_fresh_joins(changes, stop).await
    });
    (service, fresh)
}

async fn a_join_for_a_fresh_ticket_waits_for_its_listing(s: Subject) {
    let supervisor = Supervisor::new();
    let (service, fresh) = waking_service(&s, &supervisor);
    let events = QueueEvents::new(service.clone());
    let (ticket, seller, buyer) = (new_id(), new_id(), UserId(new_id()));
    let joining = {
        let service = service.clone();
        tokio::spawn(async move { service.join(buyer, TicketId(ticket)).await })
    };
    tokio::time::timeout(Duration::from_secs(10), async {
        while fresh.stats().waits == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the join waits for the ticket");

    assert_eq!(
        events
            .handle(&listed(ticket, seller))
            .await
            .expect("handle"),
        Handled::Applied
    );
    let answer = tokio::time::timeout(Duration::from_secs(10), joining)
        .await
        .expect("woken by the listing, long before the bound")
        .expect("task");
    // The answer a known, free ticket gets — not 404.
    assert!(
        matches!(
            answer,
            Err(QueueServiceError::Refused(QueueError::Refused(
                TICKET_AVAILABLE
            )))
        ),
        "{answer:?}"
    );
    let stats = fresh.stats();
    assert_eq!((stats.waits, stats.found, stats.timed_out), (1, 1, 0));
    supervisor
        .probe()
        .check()
        .await
        .expect("the waker kept running");
    supervisor.shutdown().await;
}

async fn an_old_or_made_up_ticket_is_not_found_at_once(s: Subject) {
    let supervisor = Supervisor::new();
    let (service, fresh) = waking_service(&s, &supervisor);
    let old = Uuid::new_v7(uuid::Timestamp::from_unix(
        uuid::NoContext,
        1_700_000_000,
        0,
    ));
    for ticket in [old, Uuid::new_v4()] {
        let answer = service.join(UserId(new_id()), TicketId(ticket)).await;
        assert!(
            matches!(
                answer,
                Err(QueueServiceError::Refused(QueueError::NotFound))
            ),
            "{answer:?}"
        );
    }
    let stats = fresh.stats();
    assert_eq!((stats.not_fresh, stats.waits), (2, 0), "no wait at all");
    supervisor.shutdown().await;
}
