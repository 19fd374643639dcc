//! The rules, one situation each.

use boxoffice_common::id::new_id;
use time::Duration;
use time::macros::datetime;

use super::*;

const NOW: OffsetDateTime = datetime!(2026-01-01 12:00 UTC);

fn rules() -> Rules {
    Rules {
        turn: Duration::seconds(120),
    }
}

fn held_by(user: Id) -> TicketState {
    TicketState {
        listed: true,
        seller: Some(new_id()),
        holder: Some(Holder {
            order_id: new_id(),
            user_id: user,
            expires_at: NOW + Duration::minutes(10),
        }),
        ..TicketState::default()
    }
}

#[test]
fn joining_a_held_ticket_appends_at_the_back_and_opens_the_gate() {
    let buyer = new_id();
    let mut line = Line::loaded(held_by(new_id()), vec![], 0, Some((buyer, None)));
    rules().join(&mut line, buyer).expect("joined");
    assert_eq!(line.actor_position(), Some(1));
    let gate = line.finish(new_id()).expect("gate moved");
    assert_eq!((gate.waiting, gate.turn, gate.version), (1, None, 1));
}

#[test]
fn joining_twice_keeps_the_first_place_and_changes_nothing() {
    let buyer = new_id();
    let mut line = Line::loaded(
        held_by(new_id()),
        vec![new_id(), buyer],
        2,
        Some((buyer, Some(2))),
    );
    rules().join(&mut line, buyer).expect("joined");
    assert_eq!(line.actor_position(), Some(2));
    assert!(!line.changed());
}

#[test]
fn free_sold_own_and_unknown_tickets_refuse_a_join() {
    let buyer = new_id();
    let free = TicketState {
        listed: true,
        ..TicketState::default()
    };
    let sold = TicketState {
        gone: Some(Gone::Sold),
        ..free.clone()
    };
    let own = TicketState {
        seller: Some(buyer),
        ..held_by(new_id())
    };
    let cases = [
        (free, QueueError::Refused(TICKET_AVAILABLE)),
        (sold, QueueError::Refused(TICKET_SOLD)),
        (own, QueueError::Refused(OWN_TICKET)),
        (held_by(buyer), QueueError::Refused(ALREADY_HOLDING)),
        (TicketState::default(), QueueError::NotFound),
    ];
    for (state, expected) in cases {
        let mut line = Line::loaded(state, vec![], 0, Some((buyer, None)));
        assert_eq!(rules().join(&mut line, buyer), Err(expected));
        assert!(!line.changed());
    }
}

#[test]
fn a_lapsed_hold_gives_the_head_an_exclusive_turn() {
    let (first, second) = (new_id(), new_id());
    let state = held_by(new_id());
    let order = state.holder.expect("held").order_id;
    let mut line = Line::loaded(state, vec![first, second], 2, None);
    rules().order_cancelled(&mut line, order, NOW);
    let turn = line.state.turn.expect("turn");
    assert_eq!(
        (turn.user_id, turn.expires_at),
        (first, NOW + Duration::seconds(120))
    );
    let gate = line.finish(new_id()).expect("gate moved");
    assert_eq!(gate.turn.map(|t| t.user_id), Some(first));
    assert_eq!(gate.waiting, 2);
}

#[test]
fn a_stale_cancellation_does_not_free_a_newer_hold() {
    let state = held_by(new_id());
    let mut line = Line::loaded(state.clone(), vec![new_id()], 1, None);
    rules().order_cancelled(&mut line, new_id(), NOW);
    assert_eq!(line.state.holder, state.holder);
    assert_eq!(line.state.turn, None);
}

#[test]
fn an_unused_turn_passes_to_the_next_buyer_and_then_the_gate_opens() {
    let (first, second) = (new_id(), new_id());
    let state = TicketState {
        listed: true,
        turn: Some(Turn {
            user_id: first,
            expires_at: NOW,
        }),
        ..TicketState::default()
    };
    let mut line = Line::loaded(state, vec![first, second], 2, None);
    rules().turn_lapsed(&mut line, NOW - Duration::seconds(1));
    assert!(!line.changed(), "not yet due");
    rules().turn_lapsed(&mut line, NOW);
    assert_eq!(line.ops(), &[LineOp::Remove(first)]);
    assert_eq!(line.state.turn.map(|t| t.user_id), Some(second));

    let mut last = Line::loaded(line.state.clone(), vec![second], 1, None);
    rules().turn_lapsed(&mut last, NOW + Duration::seconds(120));
    assert_eq!(last.state.turn, None);
    let gate = last.finish(new_id()).expect("gate moved");
    assert_eq!((gate.waiting, gate.turn), (0, None));
}

#[test]
fn the_turn_holder_ordering_leaves_the_line_and_ends_the_turn() {
    let (first, second) = (new_id(), new_id());
    let state = TicketState {
        listed: true,
        turn: Some(Turn {
            user_id: first,
            expires_at: NOW + Duration::seconds(60),
        }),
        ..TicketState::default()
    };
    let mut line = Line::loaded(state, vec![first, second], 2, Some((first, Some(1))));
    let order = new_id();
    rules().order_placed(&mut line, order, NOW + Duration::minutes(15));
    assert_eq!(
        line.state.holder.map(|h| (h.order_id, h.user_id)),
        Some((order, first))
    );
    assert_eq!(line.state.turn, None);
    assert_eq!((line.len(), line.head()), (1, Some(second)));
}

#[test]
fn leaving_during_ones_turn_hands_it_on() {
    let (first, second) = (new_id(), new_id());
    let state = TicketState {
        listed: true,
        turn: Some(Turn {
            user_id: first,
            expires_at: NOW + Duration::seconds(60),
        }),
        ..TicketState::default()
    };
    let mut line = Line::loaded(state, vec![first, second], 2, Some((first, Some(1))));
    rules().leave(&mut line, first, NOW);
    assert_eq!(line.state.turn.map(|t| t.user_id), Some(second));
    assert_eq!(line.actor_position(), None);
}

#[test]
fn an_order_created_after_its_own_cancellation_holds_nothing() {
    let buyer = new_id();
    let order = new_id();
    let mut line = Line::loaded(
        TicketState {
            listed: true,
            ..TicketState::default()
        },
        vec![],
        0,
        Some((buyer, None)),
    );
    rules().order_cancelled(&mut line, order, NOW);
    rules().order_placed(&mut line, order, NOW + Duration::minutes(15));
    assert_eq!(line.state.holder, None);
}

#[test]
fn a_sale_clears_the_line() {
    let mut line = Line::loaded(held_by(new_id()), vec![new_id()], 5, None);
    rules().order_completed(&mut line);
    assert_eq!((line.len(), line.state.gone), (0, Some(Gone::Sold)));
    assert_eq!(line.ops(), &[LineOp::Clear]);
}

#[test]
fn the_wait_counts_the_rest_of_the_hold_and_a_turn_per_buyer_ahead() {
    let user = new_id();
    let state = held_by(new_id());
    let place = rules().place(&state, user, 3, 3, NOW);
    assert_eq!(place.estimated_wait_seconds, 600 + 2 * 120);
    assert_eq!(
        place.earliest_wait_seconds, 600,
        "if those ahead pass at once, only the rest of the hold is left"
    );
    let mine = TicketState {
        turn: Some(Turn {
            user_id: user,
            expires_at: NOW + Duration::seconds(30),
        }),
        holder: None,
        ..state
    };
    let place = rules().place(&mine, user, 1, 3, NOW);
    assert_eq!(
        (
            place.estimated_wait_seconds,
            place.earliest_wait_seconds,
            place.turn_expires_at
        ),
        (0, 0, Some(NOW + Duration::seconds(30)))
    );
    let behind_a_turn = rules().place(&mine, new_id(), 3, 3, NOW);
    assert_eq!(
        (
            behind_a_turn.earliest_wait_seconds,
            behind_a_turn.estimated_wait_seconds
        ),
        (30, 30 + 120)
    );
}
