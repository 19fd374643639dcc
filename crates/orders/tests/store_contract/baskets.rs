//! Orders for several tickets: the store holds a basket whole or not at all, frees it
//! whole, and under a race of overlapping baskets no ticket has two holders and no order
//! holds only part of what it asked for.

use std::collections::HashSet;
use std::sync::Arc;

use boxoffice_common::{Id, Money, new_id};
use boxoffice_orders::domain::{Order, OrderedTicket};

use crate::support::{
    Subject, cancel_change, complete_change, event, order, postgres, saved, sqlite, unsent,
};

boxoffice_platform::on_both_databases!(
    a_basket_is_held_whole_or_not_at_all,
    a_basket_is_read_back_in_the_order_asked,
    overlapping_baskets_racing_never_share_or_split_a_ticket,
);

/// An order of `buyer` for `tickets`, the first as `ticket`.
fn basket(buyer: Id, tickets: &[Id], created: i64) -> Order {
    let seat = |(n, id): (usize, &Id)| OrderedTicket {
        id: *id,
        title: format!("Seat {n}"),
        price: Money::from_minor(1000 + n as i64),
        version: 0,
    };
    let mut seats = tickets.iter().enumerate().map(seat);
    Order {
        ticket: seats.next().expect("at least one ticket"),
        more_tickets: seats.collect(),
        ..order(buyer, tickets[0], created)
    }
}

async fn a_basket_is_held_whole_or_not_at_all(s: Subject) {
    let (a, b, c) = (new_id(), new_id(), new_id());
    let first = basket(new_id(), &[a, b], 0);
    assert!(s.store.insert(&first, &event()).await.expect("insert"));
    let overlapping = basket(new_id(), &[c, b], 1);
    assert!(
        !s.store
            .insert(&overlapping, &event())
            .await
            .expect("insert"),
        "b is held"
    );
    assert_eq!(s.store.get(overlapping.id).await.expect("get"), None);
    assert_eq!(
        s.store.held_among(&[c]).await.expect("held"),
        Vec::<Id>::new(),
        "c was not held by the refused basket"
    );
    assert_eq!(unsent(&s).await, 1, "only the first order's event");

    saved(
        s.store
            .modify(first.id, None, cancel_change())
            .await
            .expect("cancel"),
    );
    assert_eq!(
        s.store.held_among(&[a, b, c]).await.expect("held"),
        Vec::<Id>::new(),
        "cancelling frees every ticket of the basket"
    );
    assert!(
        s.store
            .insert(&overlapping, &event())
            .await
            .expect("insert")
    );
    saved(
        s.store
            .modify(overlapping.id, None, complete_change())
            .await
            .expect("complete"),
    );
    let mut held = s.store.held_among(&[a, b, c]).await.expect("held");
    held.sort();
    let mut sold = vec![b, c];
    sold.sort();
    assert_eq!(held, sold, "a paid basket keeps its tickets");
    assert!(
        !s.store
            .insert(&basket(new_id(), &[a, c], 2), &event())
            .await
            .expect("insert"),
        "a sold ticket refuses any later basket"
    );
}

async fn a_basket_is_read_back_in_the_order_asked(s: Subject) {
    let buyer = new_id();
    let tickets = [new_id(), new_id(), new_id(), new_id()];
    let placed = basket(buyer, &tickets, 0);
    assert!(s.store.insert(&placed, &event()).await.expect("insert"));
    let read = s.store.get(placed.id).await.expect("get").expect("stored");
    assert_eq!(read, placed);
    let ids: Vec<Id> = read.tickets().map(|t| t.id).collect();
    assert_eq!(ids, tickets.to_vec());
    assert_eq!(read.total(), Money::from_minor(4006));
    assert_eq!(s.store.for_user(buyer).await.expect("list"), vec![placed]);
}

async fn overlapping_baskets_racing_never_share_or_split_a_ticket(s: Subject) {
    let pool: Vec<Id> = (0..16).map(|_| new_id()).collect();
    // 300 baskets of 2 to 4 tickets, each overlapping many others, some in reverse order
    // of others (the order that deadlocks row-by-row locking).
    let baskets: Vec<Order> = (0..300_usize)
        .map(|i| {
            let size = 2 + i % 3;
            let mut tickets: Vec<Id> = (0..size).map(|k| pool[(i * 5 + k * 3) % 16]).collect();
            if i % 2 == 1 {
                tickets.reverse();
            }
            basket(new_id(), &tickets, i as i64)
        })
        .collect();
    let attempts: Vec<_> = baskets
        .iter()
        .cloned()
        .map(|order| {
            let store = Arc::clone(&s.store);
            tokio::spawn(async move { store.insert(&order, &event()).await })
        })
        .collect();
    let mut winners = Vec::new();
    for (attempt, order) in attempts.into_iter().zip(&baskets) {
        if attempt.await.expect("task").expect("insert") {
            winners.push(order.clone());
        }
    }
    assert!(!winners.is_empty());
    let mut taken = HashSet::new();
    for winner in &winners {
        let stored = s.store.get(winner.id).await.expect("get").expect("stored");
        assert_eq!(&stored, winner, "a winner holds all it asked for");
        for ticket in winner.tickets() {
            assert!(
                taken.insert(ticket.id),
                "ticket {} has two holders",
                ticket.id
            );
        }
    }
    let held: HashSet<Id> = s
        .store
        .held_among(&pool)
        .await
        .expect("held")
        .into_iter()
        .collect();
    assert_eq!(held, taken, "no ticket held by a basket that lost");
    for loser in baskets.iter().filter(|o| !winners.contains(o)) {
        assert_eq!(s.store.get(loser.id).await.expect("get"), None);
    }
    assert_eq!(unsent(&s).await, winners.len());
}
