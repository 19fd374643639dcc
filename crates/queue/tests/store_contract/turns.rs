//! Turns: a lapsed hold gives the head of the line the turn, and an unused turn is
//! handed on once however many timers run.

use std::time::Duration;

use boxoffice_common::{Clock, TicketId, UserId, new_id};
use boxoffice_platform::consumer::{EventHandler, Handled};
use boxoffice_queue::events::QueueEvents;
use boxoffice_queue::scheduler::TurnTimer;
use tokio_util::sync::CancellationToken;

use crate::common::{
    Subject, TURN, TestClock, cancelled, gate_events, held, redis, service, sqlite,
};

boxoffice_platform::on_each_subject!(
    [sqlite, redis]
    a_lapsed_hold_gives_the_head_the_turn_and_tells_the_orders_service,
    two_turn_timers_hand_an_unused_turn_on_once,
);

async fn a_lapsed_hold_gives_the_head_the_turn_and_tells_the_orders_service(s: Subject) {
    let clock = TestClock::new();
    let service = service(&s, clock.clone());
    let events = QueueEvents::new(service.clone());
    let (ticket, order) = held(&events).await;
    let (first, second) = (new_id(), new_id());

    let place = service
        .join(UserId(first), TicketId(ticket))
        .await
        .expect("join");
    assert_eq!((place.position, place.total), (1, 1));
    let place = service
        .join(UserId(second), TicketId(ticket))
        .await
        .expect("join");
    assert_eq!((place.position, place.total), (2, 2));
    let gates = gate_events(&s).await;
    assert_eq!(
        gates.len(),
        1,
        "only the line becoming non-empty is news: {gates:?}"
    );
    assert_eq!((gates[0].waiting, gates[0].turn.is_none()), (1, true));

    assert_eq!(
        events
            .handle(&cancelled(ticket, order))
            .await
            .expect("handle"),
        Handled::Applied
    );
    let place = service
        .status(UserId(first), TicketId(ticket))
        .await
        .expect("status")
        .expect("in line");
    assert_eq!(place.turn_expires_at, Some(clock.now() + TURN));
    assert_eq!(place.estimated_wait_seconds, 0);
    let gate = gate_events(&s).await.pop().expect("gate");
    assert_eq!(gate.waiting, 2);
    assert_eq!(
        gate.turn.map(|t| (t.user_id, t.expires_at)),
        Some((first, clock.now() + TURN))
    );
    assert!(gate.version > 1);

    // Redis scores turns in milliseconds.
    let next = s
        .store
        .next_turn_end()
        .await
        .expect("next")
        .expect("a turn");
    assert!(
        (next - (clock.now() + TURN)).abs() < time::Duration::milliseconds(1),
        "{next}"
    );
    assert!(
        s.store
            .turns_ended(clock.now(), 10)
            .await
            .expect("ended")
            .is_empty()
    );
    assert_eq!(
        s.store
            .turns_ended(clock.now() + TURN, 10)
            .await
            .expect("ended"),
        vec![ticket]
    );
}

async fn two_turn_timers_hand_an_unused_turn_on_once(s: Subject) {
    let clock = TestClock::new();
    let service = service(&s, clock.clone());
    let events = QueueEvents::new(service.clone());
    let (ticket, order) = held(&events).await;
    let (first, second) = (new_id(), new_id());
    service
        .join(UserId(first), TicketId(ticket))
        .await
        .expect("join");
    service
        .join(UserId(second), TicketId(ticket))
        .await
        .expect("join");
    events
        .handle(&cancelled(ticket, order))
        .await
        .expect("handle");

    let stop = CancellationToken::new();
    for _ in 0..2 {
        tokio::spawn(TurnTimer::new(service.clone()).run(stop.clone()));
    }
    clock.advance(TURN);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let place = service
            .status(UserId(second), TicketId(ticket))
            .await
            .expect("status");
        if place.is_some_and(|p| p.turn_expires_at.is_some()) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the turn never passed on"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    assert_eq!(
        service
            .status(UserId(first), TicketId(ticket))
            .await
            .expect("status"),
        None
    );
    let handed_to_second = gate_events(&s)
        .await
        .into_iter()
        .filter(|gate| gate.turn.as_ref().is_some_and(|t| t.user_id == second))
        .count();
    assert_eq!(handed_to_second, 1, "one hand-over, not one per timer");
}
