//! Order events applied as a group (one transaction for what an on-sale queues) end
//! exactly as they would one by one, and a group's edit that refuses takes back only its
//! own writes.

use boxoffice_common::{Id, new_id};
use boxoffice_platform::consumer::{EventHandler, Handled};
use boxoffice_platform::store::{Claim, Decision, Modified};
use boxoffice_tickets::domain::{Ticket, TicketStatus};
use boxoffice_tickets::store::{Change, TicketEdit};

use super::helpers::{
    Subject, basket_completed, basket_created, consumer, insert, order_cancelled, order_created,
    postgres, seller, sqlite, ticket, unsent_kinds,
};

boxoffice_platform::on_both_databases!(
    a_queue_of_reservations_and_sales_ends_as_one_by_one,
    a_late_order_in_a_group_after_its_cancellation_reserves_nothing,
    a_refused_edit_of_a_group_takes_back_only_its_own_writes,
);

/// `count` fresh tickets in the store; their ids.
async fn fresh(s: &Subject, count: i64) -> Vec<Id> {
    let seller = seller();
    let mut ids = Vec::new();
    for n in 0..count {
        let t = ticket(seller, &format!("Seat {n}"), 10.0, n);
        insert(&s.store, &t).await;
        ids.push(t.id);
    }
    ids
}

async fn state(s: &Subject, id: Id) -> (TicketStatus, Option<Id>, i64) {
    let t = s.store.get(id).await.expect("get").expect("ticket");
    (t.status, t.order_id, t.version)
}

async fn a_queue_of_reservations_and_sales_ends_as_one_by_one(s: Subject) {
    let ids = fresh(&s, 3).await;
    let handler = consumer(&s);
    let (first, second, basket, late) = (new_id(), new_id(), new_id(), new_id());
    let held_first = order_created(first, ids[0]);
    let events = [
        held_first.clone(),
        // A newer order replaces a holder whose cancellation has not arrived yet.
        order_created(second, ids[0]),
        basket_created(basket, &ids[1..]),
        basket_completed(basket, &ids[1..]),
        // Too late: the ticket was sold earlier in the same group.
        order_created(late, ids[1]),
        // A redelivery inside the same group.
        held_first,
    ];
    let group: Vec<_> = events.iter().collect();
    let outcomes = handler.handle_group(&group).await.expect("group");
    assert_eq!(
        outcomes,
        [
            Handled::Applied,
            Handled::Applied,
            Handled::Applied,
            Handled::Applied,
            Handled::Ignored,
            Handled::Ignored
        ]
    );
    assert_eq!(
        state(&s, ids[0]).await,
        (TicketStatus::Reserved, Some(second), 2)
    );
    for &id in &ids[1..] {
        assert_eq!(state(&s, id).await, (TicketStatus::Sold, Some(basket), 2));
    }
    let kinds = unsent_kinds(&s.store).await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "ticket:updated").count(),
        6,
        "one ticket:updated per change: {kinds:?}"
    );
    // Every event of the group was claimed: delivered again, each changes nothing.
    let again = handler.handle_group(&group).await.expect("again");
    assert_eq!(again, [Handled::Ignored; 6]);
    assert_eq!(unsent_kinds(&s.store).await.len(), kinds.len());
}

async fn a_late_order_in_a_group_after_its_cancellation_reserves_nothing(s: Subject) {
    let ids = fresh(&s, 2).await;
    let handler = consumer(&s);
    let (cancelled, other) = (new_id(), new_id());
    // The cancellation is handled alone (it is not grouped) and overtook its order.
    assert_eq!(
        handler
            .handle(&order_cancelled(cancelled, ids[0]))
            .await
            .expect("cancel"),
        Handled::Ignored
    );
    let late = order_created(cancelled, ids[0]);
    let events = [late.clone(), order_created(other, ids[1])];
    let group: Vec<_> = events.iter().collect();
    let outcomes = handler.handle_group(&group).await.expect("group");
    assert_eq!(outcomes, [Handled::Ignored, Handled::Applied]);
    assert_eq!(state(&s, ids[0]).await, (TicketStatus::Available, None, 0));
    assert_eq!(
        state(&s, ids[1]).await,
        (TicketStatus::Reserved, Some(other), 1)
    );
    assert_eq!(
        handler.handle(&late).await.expect("again"),
        Handled::Ignored
    );
}

/// Reserves for a fresh order, or refuses when the ticket is not available.
fn reserve_or_refuse() -> Change {
    let order = boxoffice_common::OrderId(new_id());
    Box::new(move |t: &mut Ticket| {
        if t.status != TicketStatus::Available {
            return Err(boxoffice_tickets::domain::TicketError::serial_taken());
        }
        t.reserve(order);
        Ok(Decision::Save(vec![]))
    })
}

async fn a_refused_edit_of_a_group_takes_back_only_its_own_writes(s: Subject) {
    let ids = fresh(&s, 2).await;
    let claim = |event_id| {
        Some(Claim {
            consumer: "group-test",
            event_id,
        })
    };
    let (a, b, c) = (new_id(), new_id(), new_id());
    let edits = vec![
        TicketEdit {
            id: ids[0],
            claim: claim(a),
            change: reserve_or_refuse(),
        },
        // The ticket is now held: this one refuses, and its claim is not kept.
        TicketEdit {
            id: ids[0],
            claim: claim(b),
            change: reserve_or_refuse(),
        },
        TicketEdit {
            id: ids[1],
            claim: claim(c),
            change: reserve_or_refuse(),
        },
    ];
    let outcomes = s.store.modify_all(edits).await.expect("modify_all");
    assert!(matches!(outcomes[0], Modified::Saved(_)), "{outcomes:?}");
    assert!(matches!(outcomes[1], Modified::Refused(_)), "{outcomes:?}");
    assert!(matches!(outcomes[2], Modified::Saved(_)), "{outcomes:?}");
    assert_eq!(state(&s, ids[0]).await.0, TicketStatus::Reserved);
    assert_eq!(state(&s, ids[1]).await.0, TicketStatus::Reserved);
    // The refused edit's claim was taken back: its event can still be applied; the
    // others' were kept.
    let fresh_claims = [
        s.store
            .claim_only(claim(a).expect("a"))
            .await
            .expect("claim a"),
        s.store
            .claim_only(claim(b).expect("b"))
            .await
            .expect("claim b"),
        s.store
            .claim_only(claim(c).expect("c"))
            .await
            .expect("claim c"),
    ];
    assert_eq!(fresh_claims, [false, true, false]);
}
