//! Order events with baskets: every ticket of a multi-ticket order is reserved, freed and
//! sold together, each under its own part of the event's inbox claim.

use boxoffice_common::{Id, new_id};
use boxoffice_platform::consumer::{EventHandler, Handled};
use boxoffice_platform::store::{Claim, Decision, Modified};
use boxoffice_tickets::domain::{Ticket, TicketStatus};
use boxoffice_tickets::events::CONSUMER;

use super::helpers::{
    Subject, basket_cancelled, basket_completed, basket_created, consumer, insert, order_created,
    postgres, seller, sqlite, ticket, unsent_kinds,
};

boxoffice_platform::on_both_databases!(
    a_three_ticket_order_holds_frees_and_its_redeliveries_change_nothing,
    a_completed_basket_sells_every_ticket,
    a_late_basket_after_its_cancellation_reserves_nothing,
    a_redelivery_after_a_crash_half_way_applies_only_the_rest,
    an_old_one_ticket_event_still_reserves_its_ticket,
);

/// Three fresh tickets in the store; their ids.
async fn three(s: &Subject) -> Vec<Id> {
    let seller = seller();
    let mut ids = Vec::new();
    for n in 0..3 {
        let t = ticket(seller, &format!("Seat {n}"), 10.0, n);
        insert(&s.store, &t).await;
        ids.push(t.id);
    }
    ids
}

/// `(status, order, version)` of each ticket.
async fn states(s: &Subject, ids: &[Id]) -> Vec<(TicketStatus, Option<Id>, i64)> {
    let mut states = Vec::new();
    for &id in ids {
        let t = s.store.get(id).await.expect("get").expect("ticket");
        states.push((t.status, t.order_id, t.version));
    }
    states
}

async fn a_three_ticket_order_holds_frees_and_its_redeliveries_change_nothing(s: Subject) {
    let ids = three(&s).await;
    let handler = consumer(&s);
    let order = new_id();
    let created = basket_created(order, &ids);
    assert_eq!(
        handler.handle(&created).await.expect("handle"),
        Handled::Applied
    );
    let held = vec![(TicketStatus::Reserved, Some(order), 1); 3];
    assert_eq!(states(&s, &ids).await, held);
    assert_eq!(
        handler.handle(&created).await.expect("handle"),
        Handled::Ignored
    );
    assert_eq!(states(&s, &ids).await, held, "a redelivery changes nothing");

    let cancelled = basket_cancelled(order, &ids);
    assert_eq!(
        handler.handle(&cancelled).await.expect("handle"),
        Handled::Applied
    );
    let free = vec![(TicketStatus::Available, None, 2); 3];
    assert_eq!(states(&s, &ids).await, free);
    assert_eq!(
        handler.handle(&cancelled).await.expect("handle"),
        Handled::Ignored
    );
    assert_eq!(states(&s, &ids).await, free);
    let kinds = unsent_kinds(&s.store).await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "ticket:updated").count(),
        6,
        "one ticket:updated per ticket and change: {kinds:?}"
    );
}

async fn a_completed_basket_sells_every_ticket(s: Subject) {
    let ids = three(&s).await;
    let handler = consumer(&s);
    let order = new_id();
    handler
        .handle(&basket_created(order, &ids))
        .await
        .expect("hold");
    let completed = basket_completed(order, &ids);
    assert_eq!(
        handler.handle(&completed).await.expect("handle"),
        Handled::Applied
    );
    assert_eq!(
        states(&s, &ids).await,
        vec![(TicketStatus::Sold, Some(order), 2); 3]
    );
    // A stale cancellation of the paid order frees nothing.
    assert_eq!(
        handler
            .handle(&basket_cancelled(order, &ids))
            .await
            .expect("handle"),
        Handled::Ignored
    );
    assert_eq!(
        states(&s, &ids).await,
        vec![(TicketStatus::Sold, Some(order), 2); 3]
    );
}

async fn a_late_basket_after_its_cancellation_reserves_nothing(s: Subject) {
    let ids = three(&s).await;
    let handler = consumer(&s);
    let order = new_id();
    assert_eq!(
        handler
            .handle(&basket_cancelled(order, &ids))
            .await
            .expect("handle"),
        Handled::Ignored
    );
    assert_eq!(
        handler
            .handle(&basket_created(order, &ids))
            .await
            .expect("handle"),
        Handled::Ignored
    );
    assert_eq!(
        states(&s, &ids).await,
        vec![(TicketStatus::Available, None, 0); 3]
    );
}

async fn a_redelivery_after_a_crash_half_way_applies_only_the_rest(s: Subject) {
    let ids = three(&s).await;
    let handler = consumer(&s);
    let order = new_id();
    let created = basket_created(order, &ids);
    // The first delivery reserved the first ticket, under the event's own claim, and
    // then the process died.
    let first = Claim {
        consumer: CONSUMER,
        event_id: created.id,
    }
    .part(0, ids[0]);
    let reserve = s
        .store
        .modify(
            ids[0],
            Some(first),
            Box::new(move |t: &mut Ticket| {
                Ok(match t.reserve(boxoffice_common::OrderId(order)) {
                    Some(_) => Decision::Save(vec![]),
                    None => Decision::Keep,
                })
            }),
        )
        .await
        .expect("modify");
    assert!(matches!(reserve, Modified::Saved(_)), "{reserve:?}");
    assert_eq!(
        handler.handle(&created).await.expect("handle"),
        Handled::Applied
    );
    assert_eq!(
        states(&s, &ids).await,
        vec![(TicketStatus::Reserved, Some(order), 1); 3],
        "the first ticket was not reserved twice"
    );
}

async fn an_old_one_ticket_event_still_reserves_its_ticket(s: Subject) {
    let t = ticket(seller(), "Concert", 20.0, 0);
    insert(&s.store, &t).await;
    let handler = consumer(&s);
    let order = new_id();
    // `order_created` writes no `tickets`, as events from before baskets.
    let old = order_created(order, t.id);
    assert!(
        !old.data.to_string().contains("\"tickets\""),
        "{}",
        old.data
    );
    assert_eq!(
        handler.handle(&old).await.expect("handle"),
        Handled::Applied
    );
    assert_eq!(
        states(&s, &[t.id]).await,
        [(TicketStatus::Reserved, Some(order), 1)]
    );
}
