//! Lines: redeliveries change nothing, concurrent joins get distinct places in arrival
//! order, and a sale ends the line.

use boxoffice_common::events::{OrderCompleted, OrderTicket};
use boxoffice_common::{Id, TicketId, UserId, new_id};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::consumer::{EventHandler, Handled};
use boxoffice_queue::events::QueueEvents;
use time::OffsetDateTime;

use crate::common::{
    Subject, TestClock, cancelled, gate_events, held, ordered, redis, service, sqlite,
};

boxoffice_platform::on_each_subject!(
    [sqlite, redis]
    a_redelivered_event_changes_nothing,
    concurrent_joins_get_distinct_places_in_arrival_order,
    a_sale_clears_the_line,
);

async fn a_redelivered_event_changes_nothing(s: Subject) {
    let service = service(&s, TestClock::new());
    let events = QueueEvents::new(service.clone());
    let (ticket, order) = held(&events).await;
    let buyer = new_id();
    service
        .join(UserId(buyer), TicketId(ticket))
        .await
        .expect("join");
    let cancel = cancelled(ticket, order);
    assert_eq!(
        events.handle(&cancel).await.expect("handle"),
        Handled::Applied
    );
    let before = s.store.snapshot(ticket, buyer).await.expect("snapshot");
    for _ in 0..3 {
        assert_eq!(
            events.handle(&cancel).await.expect("handle"),
            Handled::Ignored
        );
    }
    assert_eq!(
        s.store.snapshot(ticket, buyer).await.expect("snapshot"),
        before
    );
    // A late order:created of the cancelled order holds nothing.
    let late = ordered(ticket, order, new_id());
    events.handle(&late).await.expect("handle");
    let after = s.store.snapshot(ticket, buyer).await.expect("snapshot");
    assert_eq!(after.state.holder, None);
    assert_eq!(after.state.turn.map(|t| t.user_id), Some(buyer));
}

async fn concurrent_joins_get_distinct_places_in_arrival_order(s: Subject) {
    let service = service(&s, TestClock::new());
    let events = QueueEvents::new(service.clone());
    let (ticket, _) = held(&events).await;
    let joins: Vec<_> = (0..40)
        .map(|_| {
            let service = service.clone();
            let buyer = new_id();
            tokio::spawn(async move {
                (
                    buyer,
                    service
                        .join(UserId(buyer), TicketId(ticket))
                        .await
                        .expect("join"),
                )
            })
        })
        .collect();
    let mut joined = Vec::new();
    for join in joins {
        joined.push(join.await.expect("task"));
    }
    let mut positions = Vec::new();
    for (buyer, place) in joined {
        // Later joins only lengthen the line: the place given is the place kept.
        let now = service
            .status(UserId(buyer), TicketId(ticket))
            .await
            .expect("status")
            .expect("in line");
        assert_eq!(now.position, place.position);
        assert_eq!(now.total, 40);
        positions.push(place.position);
    }
    positions.sort_unstable();
    assert_eq!(positions, (1..=40).collect::<Vec<u64>>());
}

async fn a_sale_clears_the_line(s: Subject) {
    let service = service(&s, TestClock::new());
    let events = QueueEvents::new(service.clone());
    let (ticket, order) = held(&events).await;
    let buyers: Vec<Id> = (0..5).map(|_| new_id()).collect();
    for buyer in &buyers {
        service
            .join(UserId(*buyer), TicketId(ticket))
            .await
            .expect("join");
    }
    let sold = OrderCompleted {
        id: order,
        version: 2,
        ticket: OrderTicket {
            id: ticket,
            price: None,
        },
        tickets: vec![],
    };
    let event = Envelope::new("orders", OffsetDateTime::now_utc(), &sold);
    assert_eq!(
        events.handle(&event).await.expect("handle"),
        Handled::Applied
    );
    for buyer in &buyers {
        assert_eq!(
            service
                .status(UserId(*buyer), TicketId(ticket))
                .await
                .expect("status"),
            None
        );
    }
    let gate = gate_events(&s).await.pop().expect("gate");
    assert_eq!((gate.waiting, gate.turn), (0, None));
    let refused = service.join(UserId(new_id()), TicketId(ticket)).await;
    assert!(
        matches!(&refused, Err(e) if e.to_string() == "Ticket is already sold"),
        "{refused:?}"
    );
}
