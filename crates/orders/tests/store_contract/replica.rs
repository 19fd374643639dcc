//! The ticket replica and each ticket's line, at the store: versions apply in order
//! only, a deferred update leaves the inbox alone, and only a newer line replaces the
//! stored one.

use std::sync::Arc;

use boxoffice_common::{UserId, new_id};
use boxoffice_orders::domain::{LineGate, TicketReplica};
use boxoffice_orders::events::CONSUMER;
use boxoffice_orders::store::{ReplicaChange, ReplicaDecision, ReplicaOutcome};
use boxoffice_platform::store::Claim;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::support::{Subject, at, postgres, replica, sqlite};

boxoffice_platform::on_both_databases!(
    the_replica_applies_versions_in_order_only,
    the_newest_line_gate_is_kept_and_claimed_once,
);

async fn the_replica_applies_versions_in_order_only(s: Subject) {
    let id = new_id();
    let claim = || Claim {
        consumer: "orders",
        event_id: new_id(),
    };
    let upsert =
        |r: TicketReplica| -> ReplicaChange { Box::new(move |_| ReplicaDecision::Upsert(r)) };
    assert_eq!(
        s.store
            .apply_to_replica(id, claim(), upsert(replica(id, 0, "v0")))
            .await
            .expect("apply"),
        ReplicaOutcome::Applied
    );
    assert_eq!(
        s.store.ticket(id).await.expect("read"),
        Some(replica(id, 0, "v0"))
    );

    let early = claim();
    let outcome = s
        .store
        .apply_to_replica(id, early, Box::new(|_| ReplicaDecision::NotYet))
        .await
        .expect("apply");
    assert_eq!(outcome, ReplicaOutcome::NotYet);
    // NotYet leaves the inbox alone: the redelivery of the same event can still apply.
    let outcome = s
        .store
        .apply_to_replica(id, early, upsert(replica(id, 1, "v1")))
        .await
        .expect("apply");
    assert_eq!(outcome, ReplicaOutcome::Applied);
    let outcome = s
        .store
        .apply_to_replica(id, early, upsert(replica(id, 1, "v1")))
        .await
        .expect("apply");
    assert_eq!(outcome, ReplicaOutcome::Duplicate);
    let kept = s
        .store
        .apply_to_replica(id, claim(), Box::new(|_| ReplicaDecision::Keep))
        .await
        .expect("apply");
    assert_eq!(kept, ReplicaOutcome::Kept);
    assert_eq!(
        s.store.ticket(id).await.expect("read"),
        Some(replica(id, 1, "v1"))
    );
}

async fn the_newest_line_gate_is_kept_and_claimed_once(s: Subject) {
    let ticket = new_id();
    let (first, second) = (new_id(), new_id());
    let listed = replica(ticket, 0, "Concert");
    let upsert = listed.clone();
    s.store
        .apply_to_replica(
            ticket,
            Claim {
                consumer: CONSUMER,
                event_id: new_id(),
            },
            Box::new(move |_| ReplicaDecision::Upsert(upsert)),
        )
        .await
        .expect("replica");
    // The ticket and its line come in one read; a ticket nobody queued for has no line.
    let line_of = |s: &Subject| {
        let store = Arc::clone(&s.store);
        let listed = listed.clone();
        async move {
            let (read, line) = store
                .ticket_with_line(ticket)
                .await
                .expect("read")
                .expect("the ticket");
            assert_eq!(read, listed);
            line
        }
    };
    assert_eq!(line_of(&s).await, None);
    assert_eq!(
        s.store.ticket_with_line(new_id()).await.expect("read"),
        None
    );
    let gate = |version: i64, waiting: u64, turn: Option<(Uuid, OffsetDateTime)>| LineGate {
        ticket_id: ticket,
        version,
        waiting,
        turn,
    };
    let claim = |event_id| Claim {
        consumer: CONSUMER,
        event_id,
    };
    let newest = gate(3, 2, Some((first, at(120))));
    let event = new_id();
    assert_eq!(
        s.store
            .apply_line_gate(claim(event), &newest)
            .await
            .expect("apply"),
        ReplicaOutcome::Applied
    );
    assert_eq!(
        s.store
            .apply_line_gate(claim(event), &gate(4, 0, None))
            .await
            .expect("apply"),
        ReplicaOutcome::Duplicate
    );
    assert_eq!(
        s.store
            .apply_line_gate(claim(new_id()), &gate(2, 1, None))
            .await
            .expect("apply"),
        ReplicaOutcome::Kept,
        "an older word arriving late changes nothing"
    );
    let kept = line_of(&s).await.expect("stored");
    assert_eq!(kept, newest);
    assert!(kept.admits(UserId(first), at(119)));
    assert!(!kept.admits(UserId(first), at(120)), "the turn is over");
    assert!(!kept.admits(UserId(second), at(0)), "not their turn");
    let next = gate(5, 1, Some((second, at(240))));
    s.store
        .apply_line_gate(claim(new_id()), &next)
        .await
        .expect("apply");
    assert_eq!(line_of(&s).await, Some(next));
}
