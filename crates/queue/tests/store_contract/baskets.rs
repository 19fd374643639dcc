//! An order holding several tickets: the queue follows every one of them — each ticket's
//! line sees the order as its holder, a cancellation frees them all, and a redelivered
//! event, or one delivered again after a crash half-way, changes nothing twice.

use boxoffice_common::events::{Basket, OrderCancelled, OrderCreated, OrderTicket};
use boxoffice_common::order::{CancelReason, OrderStatus};
use boxoffice_common::{Id, new_id};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::consumer::{EventHandler, Handled};
use boxoffice_queue::events::QueueEvents;
use time::OffsetDateTime;

use crate::common::{Subject, TestClock, listed, redis, service, sqlite};

boxoffice_platform::on_each_subject!(
    [sqlite, redis]
    a_basket_order_holds_and_frees_every_ticket_line,
);

fn seat(id: Id) -> OrderTicket {
    OrderTicket {
        id,
        price: Some(1000),
    }
}

async fn holder(s: &Subject, ticket: Id) -> Option<Id> {
    let snapshot = s.store.snapshot(ticket, new_id()).await.expect("snapshot");
    snapshot.state.holder.map(|holder| holder.order_id)
}

async fn a_basket_order_holds_and_frees_every_ticket_line(s: Subject) {
    let events = QueueEvents::new(service(&s, TestClock::new()));
    let tickets = [new_id(), new_id(), new_id()];
    for ticket in tickets {
        events
            .handle(&listed(ticket, new_id()))
            .await
            .expect("listed");
    }
    let order = new_id();
    let created = OrderCreated {
        id: order,
        version: 0,
        status: OrderStatus::Created,
        user_id: new_id(),
        expires_at: OffsetDateTime::now_utc() + time::Duration::minutes(15),
        ticket: seat(tickets[0]),
        tickets: tickets.iter().copied().map(seat).collect(),
    };
    assert_eq!(created.basket().len(), 3);
    let created = Envelope::new("orders", OffsetDateTime::now_utc(), &created);
    assert_eq!(
        events.handle(&created).await.expect("handle"),
        Handled::Applied
    );
    for ticket in tickets {
        assert_eq!(holder(&s, ticket).await, Some(order), "every line sees it");
    }
    assert_eq!(
        events.handle(&created).await.expect("handle"),
        Handled::Ignored,
        "a redelivery changes nothing"
    );

    let cancelled = OrderCancelled {
        id: order,
        version: 1,
        reason: CancelReason::User,
        ticket: seat(tickets[0]),
        tickets: tickets.iter().copied().map(seat).collect(),
    };
    let cancelled = Envelope::new("orders", OffsetDateTime::now_utc(), &cancelled);
    assert_eq!(
        events.handle(&cancelled).await.expect("handle"),
        Handled::Applied
    );
    for ticket in tickets {
        assert_eq!(holder(&s, ticket).await, None, "every ticket freed");
    }
}
