//! Waiting rooms at the store: the room gate's version rule, and the per-account limit
//! decided in the inserting transaction — a buyer's concurrent orders for one event can
//! never together pass it.

use std::sync::Arc;

use boxoffice_common::{Id, Money, new_id};
use boxoffice_orders::domain::{Order, OrderedTicket, RoomGate};
use boxoffice_orders::store::{AccountLimit, Placement, ReplicaDecision, ReplicaOutcome};
use boxoffice_platform::store::Claim;

use crate::support::{Subject, cancel_change, event, order, postgres, replica, saved, sqlite};

boxoffice_platform::on_both_databases!(
    a_newer_room_gate_replaces_an_older_one,
    the_per_account_limit_counts_live_and_paid_orders_of_the_event_only,
    concurrent_orders_of_one_buyer_never_pass_the_limit_together,
);

fn claim() -> Claim<'static> {
    Claim {
        consumer: "orders",
        event_id: new_id(),
    }
}

/// Replicas of `count` tickets of `event`.
async fn tickets_of(s: &Subject, event: Option<Id>, count: usize) -> Vec<Id> {
    let mut ids = Vec::new();
    for _ in 0..count {
        let id = new_id();
        let mut ticket = replica(id, 0, "Seat");
        ticket.event_id = event;
        let outcome = s
            .store
            .apply_to_replica(
                id,
                claim(),
                Box::new(move |_| ReplicaDecision::Upsert(ticket)),
            )
            .await
            .expect("replica");
        assert_eq!(outcome, ReplicaOutcome::Applied);
        ids.push(id);
    }
    ids
}

/// An order of `buyer` for `tickets`.
fn basket(buyer: Id, tickets: &[Id]) -> Order {
    let seat = |id: &Id| OrderedTicket {
        id: *id,
        title: "Seat".into(),
        price: Money::from_minor(1000),
        version: 0,
    };
    let mut seats = tickets.iter().map(seat);
    Order {
        ticket: seats.next().expect("a ticket"),
        more_tickets: seats.collect(),
        ..order(buyer, tickets[0], 0)
    }
}

fn limit(event: Id, limit: u32, tickets: u32) -> AccountLimit {
    AccountLimit {
        event_id: event,
        limit,
        tickets,
    }
}

async fn a_newer_room_gate_replaces_an_older_one(s: Subject) {
    let event_id = new_id();
    assert_eq!(s.store.room_gate(event_id).await.expect("read"), None);
    let gate = |version, open| RoomGate {
        event_id,
        version,
        open,
        per_account_limit: 2,
    };
    let applied = s.store.apply_room_gate(claim(), &gate(1, false)).await;
    assert_eq!(applied.expect("apply"), ReplicaOutcome::Applied);
    let older = s.store.apply_room_gate(claim(), &gate(0, true)).await;
    assert_eq!(older.expect("apply"), ReplicaOutcome::Kept);
    assert_eq!(
        s.store.room_gate(event_id).await.expect("read"),
        Some(gate(1, false))
    );
    let again = claim();
    assert_eq!(
        s.store
            .apply_room_gate(again, &gate(2, true))
            .await
            .expect("apply"),
        ReplicaOutcome::Applied
    );
    assert_eq!(
        s.store
            .apply_room_gate(again, &gate(3, true))
            .await
            .expect("apply"),
        ReplicaOutcome::Duplicate,
        "the inbox claims each event once"
    );
}

async fn the_per_account_limit_counts_live_and_paid_orders_of_the_event_only(s: Subject) {
    let (event_id, other_event) = (new_id(), new_id());
    let seats = tickets_of(&s, Some(event_id), 4).await;
    let elsewhere = tickets_of(&s, Some(other_event), 1).await;
    let free_standing = tickets_of(&s, None, 1).await;
    let buyer = new_id();

    let first = basket(buyer, &[seats[0], elsewhere[0], free_standing[0]]);
    let placed = s
        .store
        .insert_within(&first, &event(), &[limit(event_id, 2, 1)])
        .await
        .expect("insert");
    assert_eq!(
        placed,
        Placement::Placed,
        "one of the event's tickets, other tickets free"
    );

    let too_many = basket(buyer, &[seats[1], seats[2]]);
    let refused = s
        .store
        .insert_within(&too_many, &event(), &[limit(event_id, 2, 2)])
        .await
        .expect("insert");
    assert_eq!(refused, Placement::OverLimit);
    assert_eq!(
        s.store.get(too_many.id).await.expect("get"),
        None,
        "nothing written"
    );
    assert!(
        s.store
            .held_among(&[seats[1], seats[2]])
            .await
            .expect("held")
            .is_empty(),
        "the refused basket holds nothing"
    );

    let someone_else = basket(new_id(), &[seats[1], seats[2]]);
    let theirs = s
        .store
        .insert_within(&someone_else, &event(), &[limit(event_id, 2, 2)])
        .await
        .expect("insert");
    assert_eq!(theirs, Placement::Placed, "the limit is per account");

    saved(
        s.store
            .modify(first.id, None, cancel_change())
            .await
            .expect("cancel"),
    );
    let after_cancel = basket(buyer, &[seats[0], seats[3]]);
    let placed = s
        .store
        .insert_within(&after_cancel, &event(), &[limit(event_id, 2, 2)])
        .await
        .expect("insert");
    assert_eq!(
        placed,
        Placement::Placed,
        "a cancelled order no longer counts"
    );
}

async fn concurrent_orders_of_one_buyer_never_pass_the_limit_together(s: Subject) {
    let event_id = new_id();
    let seats = tickets_of(&s, Some(event_id), 10).await;
    let buyer = new_id();
    let store = Arc::clone(&s.store);
    let attempts = seats.iter().map(|&seat| {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let order = basket(buyer, &[seat]);
            store
                .insert_within(&order, &event(), &[limit(event_id, 3, 1)])
                .await
                .expect("insert")
        })
    });
    let mut placed = 0;
    for attempt in attempts.collect::<Vec<_>>() {
        if attempt.await.expect("task") == Placement::Placed {
            placed += 1;
        }
    }
    assert_eq!(placed, 3, "exactly the limit, whatever the interleaving");
    let held = s.store.held_among(&seats).await.expect("held");
    assert_eq!(held.len(), 3);
}
