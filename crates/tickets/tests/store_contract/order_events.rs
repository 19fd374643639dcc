//! Order events driving the reservation state, through the `OrderEvents` consumer.

use boxoffice_common::events::{OrderCompleted, OrderTicket};
use boxoffice_common::new_id;
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::consumer::{EventHandler, Handled};
use boxoffice_tickets::domain::TicketStatus;
use time::OffsetDateTime;

use super::helpers::{
    Subject, consumer, insert, order_cancelled, order_created, postgres, seller, sqlite, ticket,
    unsent_kinds,
};

boxoffice_platform::on_both_databases!(
    a_cancellation_that_overtakes_its_order_keeps_the_ticket_free,
    a_duplicate_order_event_changes_nothing,
    a_late_cancellation_of_an_older_order_never_frees_a_newer_hold,
    a_sold_ticket_stays_sold,
);

async fn a_duplicate_order_event_changes_nothing(s: Subject) {
    let t = ticket(seller(), "Concert", 20.0, 0);
    insert(&s.store, &t).await;
    let handler = consumer(&s);
    let event = order_created(new_id(), t.id);
    assert_eq!(
        handler.handle(&event).await.expect("handle"),
        Handled::Applied
    );
    for _ in 0..4 {
        assert_eq!(
            handler.handle(&event).await.expect("handle"),
            Handled::Ignored
        );
    }
    let now = s.store.get(t.id).await.expect("get").expect("ticket");
    assert_eq!((now.status, now.version), (TicketStatus::Reserved, 1));
    assert_eq!(
        unsent_kinds(&s.store).await,
        ["ticket:created", "ticket:updated"]
    );
}

async fn a_late_cancellation_of_an_older_order_never_frees_a_newer_hold(s: Subject) {
    let t = ticket(seller(), "Concert", 20.0, 0);
    insert(&s.store, &t).await;
    let handler = consumer(&s);
    let (old, new) = (new_id(), new_id());
    handler
        .handle(&order_created(old, t.id))
        .await
        .expect("old holds");
    // The old order expired and a new one took the ticket; the old cancellation arrives last.
    handler
        .handle(&order_created(new, t.id))
        .await
        .expect("new holds");
    assert_eq!(
        handler
            .handle(&order_cancelled(old, t.id))
            .await
            .expect("handle"),
        Handled::Ignored
    );
    let now = s.store.get(t.id).await.expect("get").expect("ticket");
    assert_eq!(
        (now.status, now.order_id),
        (TicketStatus::Reserved, Some(new))
    );
    assert_eq!(
        handler
            .handle(&order_cancelled(new, t.id))
            .await
            .expect("handle"),
        Handled::Applied
    );
    let now = s.store.get(t.id).await.expect("get").expect("ticket");
    assert_eq!((now.status, now.order_id), (TicketStatus::Available, None));
}

async fn a_sold_ticket_stays_sold(s: Subject) {
    let t = ticket(seller(), "Concert", 20.0, 0);
    insert(&s.store, &t).await;
    let handler = consumer(&s);
    let order = new_id();
    handler
        .handle(&order_created(order, t.id))
        .await
        .expect("hold");
    let completed = Envelope::new(
        "orders",
        OffsetDateTime::now_utc(),
        &OrderCompleted {
            id: order,
            version: 1,
            ticket: OrderTicket {
                id: t.id,
                price: None,
            },
            tickets: vec![],
        },
    );
    assert_eq!(
        handler.handle(&completed).await.expect("handle"),
        Handled::Applied
    );
    assert_eq!(
        handler
            .handle(&order_cancelled(order, t.id))
            .await
            .expect("handle"),
        Handled::Ignored
    );
    assert_eq!(
        handler
            .handle(&order_created(new_id(), t.id))
            .await
            .expect("handle"),
        Handled::Ignored
    );
    let now = s.store.get(t.id).await.expect("get").expect("ticket");
    assert_eq!(
        (now.status, now.order_id),
        (TicketStatus::Sold, Some(order))
    );
}

async fn a_cancellation_that_overtakes_its_order_keeps_the_ticket_free(s: Subject) {
    let t = ticket(seller(), "Concert", 20.0, 0);
    insert(&s.store, &t).await;
    let handler = consumer(&s);
    let order = new_id();
    assert_eq!(
        handler
            .handle(&order_cancelled(order, t.id))
            .await
            .expect("handle"),
        Handled::Ignored
    );
    assert_eq!(
        handler
            .handle(&order_created(order, t.id))
            .await
            .expect("handle"),
        Handled::Ignored
    );
    let now = s.store.get(t.id).await.expect("get").expect("ticket");
    assert_eq!(
        (now.status, now.order_id, now.version),
        (TicketStatus::Available, None, 0)
    );
    // A newer order still gets it.
    let newer = new_id();
    assert_eq!(
        handler
            .handle(&order_created(newer, t.id))
            .await
            .expect("handle"),
        Handled::Applied
    );
    assert_eq!(
        s.store
            .get(t.id)
            .await
            .expect("get")
            .expect("ticket")
            .order_id,
        Some(newer)
    );
}
