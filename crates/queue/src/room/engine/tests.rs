use super::*;
use crate::room::verify;

const SECOND: i64 = 1_000;

fn room(opens_at: i64) -> Room {
    let config = RoomConfig {
        lease_ms: 10 * SECOND,
        grace_ms: 20 * SECOND,
        admission_ms: 30 * SECOND,
        admit_per_minute: 100,
    };
    Room::new(Seed::generate().expect("seed"), opens_at, config, 0)
}

/// The stock with something already sold (so that nothing free or held is sold out).
fn stock(free: u32, held: u32) -> Stock {
    Stock {
        free,
        held,
        sold: 1,
    }
}

#[test]
fn the_prequeue_is_ranked_by_the_seed_at_the_opening_and_later_joiners_queue_behind() {
    let mut room = room(10 * SECOND);
    for pid in ["a", "b", "c", "d"] {
        assert_eq!(room.join(pid, SECOND).state, PlaceState::Prequeue);
    }
    assert_eq!(
        room.view("a").position,
        None,
        "not ranked before the opening"
    );
    assert!(
        room.tick(5 * SECOND, stock(0, 0)).is_empty(),
        "not open yet"
    );
    assert_eq!(room.state(), RoomState::Prequeue);

    for pid in ["a", "b", "c", "d"] {
        room.touch(pid, 9 * SECOND);
    }
    assert!(
        room.tick(10 * SECOND, stock(0, 1)).is_empty(),
        "nothing free"
    );
    assert_eq!(room.state(), RoomState::Paused);
    room.join("late", 11 * SECOND);
    let ranked = match &room.log().entries()[5].what {
        What::Ranked { pids } => pids.clone(),
        other => panic!("expected the ranking, got {other:?}"),
    };
    let positions: Vec<u64> = ranked
        .iter()
        .map(|pid| room.view(pid).position.expect("ranked"))
        .collect();
    assert_eq!(positions, [1, 2, 3, 4]);
    assert_eq!(room.view("late").position, Some(5));
    assert_eq!(room.view("late").ahead, Some(4));
}

#[test]
fn admission_follows_free_stock_and_passes_over_nobody_live() {
    let mut room = room(0);
    for pid in ["a", "b", "c"] {
        room.join(pid, 0);
    }
    let first = room.tick(SECOND, stock(2, 0));
    assert_eq!(first.len(), 2, "one admission per free ticket at first");
    assert!(
        room.tick(2 * SECOND, stock(2, 0)).is_empty(),
        "both still unused"
    );
    room.ordered(&first[0], 3 * SECOND);
    let next = room.tick(3 * SECOND, stock(1, 1));
    assert!(
        next.is_empty(),
        "one admitted and unused for one free ticket"
    );
    assert_eq!(room.view(&first[0]).state, PlaceState::Ordered);
    assert!(verify(room.log().entries()).holds());
}

#[test]
fn a_silent_place_is_parked_keeps_its_rank_and_comes_back_or_is_released() {
    let mut room = room(0);
    room.join("quiet", 0);
    room.join("gone", 0);
    room.join("loud", 0);
    room.tick(0, stock(0, 5));
    // "loud" keeps its place alive; the others fall silent.
    room.touch("loud", 8 * SECOND);
    room.tick(11 * SECOND, stock(0, 5));
    assert_eq!(room.view("quiet").state, PlaceState::Parked);
    assert_eq!(room.view("loud").state, PlaceState::Waiting);
    // Back within the grace: the same rank.
    let before = room.view("quiet").position;
    room.touch("quiet", 15 * SECOND);
    assert_eq!(room.view("quiet").state, PlaceState::Waiting);
    assert_eq!(room.view("quiet").position, before);
    // "gone" never comes back: released after lease + grace.
    room.touch("quiet", 25 * SECOND);
    room.touch("loud", 25 * SECOND);
    room.tick(31 * SECOND, stock(0, 5));
    assert_eq!(room.view("gone").state, PlaceState::Released);
    assert_eq!(room.view("quiet").state, PlaceState::Waiting);
}

#[test]
fn an_unused_admission_is_returned_and_the_next_place_admitted() {
    let mut room = room(0);
    room.join("first", 0);
    room.join("second", 0);
    let ranked_first = room.tick(0, stock(1, 0));
    assert_eq!(ranked_first.len(), 1);
    let other = if ranked_first[0] == "first" {
        "second"
    } else {
        "first"
    };
    room.touch(other, 9 * SECOND);
    room.touch(other, 18 * SECOND);
    room.touch(other, 27 * SECOND);
    assert!(
        room.tick(30 * SECOND, stock(1, 0)).is_empty(),
        "still within its window"
    );
    let next = room.tick(31 * SECOND, stock(1, 0));
    assert_eq!(room.view(&ranked_first[0]).state, PlaceState::Released);
    assert_eq!(next, [other.to_owned()]);
}

#[test]
fn nothing_left_is_sold_out_for_everyone_at_once() {
    let mut room = room(0);
    for pid in ["a", "b", "c"] {
        room.join(pid, 0);
    }
    room.tick(0, stock(0, 0));
    assert_eq!(room.state(), RoomState::SoldOut);
    for pid in ["a", "b", "c"] {
        assert_eq!(room.view(pid).state, PlaceState::SoldOut);
    }
    assert_eq!(room.join("late", SECOND).state, PlaceState::Released);
    assert!(
        room.tick(2 * SECOND, stock(3, 0)).is_empty(),
        "sold out stays sold out"
    );
}

#[test]
fn joining_again_keeps_the_place_and_leaving_releases_it() {
    let mut room = room(0);
    room.join("a", 0);
    room.join("b", 0);
    room.tick(0, stock(0, 1));
    let b = room.view("b");
    assert_eq!(room.join("b", SECOND), b, "the same place");
    room.leave("a", 2 * SECOND);
    assert_eq!(room.view("a").state, PlaceState::Released);
    let again = room.join("a", 3 * SECOND);
    assert_eq!(again.ahead, Some(1), "a place taken again is at the end");
    let joins = room
        .log()
        .entries()
        .iter()
        .filter(|e| matches!(e.what, What::Join { .. }))
        .count();
    assert_eq!(joins, 3);
}

#[test]
fn admissions_keep_to_the_rate_per_minute() {
    let mut room = Room::new(
        Seed::generate().expect("seed"),
        0,
        RoomConfig {
            admit_per_minute: 5,
            lease_ms: 10 * 60 * SECOND,
            ..RoomConfig::default()
        },
        0,
    );
    for i in 0..20 {
        room.join(&format!("p{i}"), 0);
    }
    assert_eq!(room.tick(0, stock(20, 0)).len(), 5);
    assert!(room.tick(30 * SECOND, stock(20, 0)).is_empty());
    assert_eq!(room.tick(60 * SECOND, stock(20, 0)).len(), 5);
}

#[test]
fn the_views_of_all_places_agree_with_each_place_s_own() {
    let mut room = room(0);
    for i in 0..12 {
        room.join(&format!("p{i}"), 0);
    }
    room.tick(0, stock(3, 0));
    room.leave("p4", SECOND);
    room.join("p4", 2 * SECOND);
    let views = room.views();
    for i in 0..12 {
        let pid = format!("p{i}");
        assert_eq!(views[pid.as_str()], room.view(&pid), "{pid}");
    }
}

#[test]
fn a_room_restored_from_its_log_stands_where_it_stood_and_goes_on_alike() {
    let seed = Seed::generate().expect("seed");
    let config = RoomConfig {
        lease_ms: 10 * SECOND,
        grace_ms: 20 * SECOND,
        admission_ms: 30 * SECOND,
        admit_per_minute: 100,
    };
    let mut room = Room::new(seed.clone(), 5 * SECOND, config, 0);
    for pid in ["a", "b", "c", "d", "e"] {
        room.join(pid, SECOND);
    }
    let admitted = room.tick(5 * SECOND, stock(2, 0));
    assert_eq!(admitted.len(), 2);
    room.ordered(&admitted[0], 6 * SECOND);
    room.leave(&admitted[1], 7 * SECOND);
    room.join("late", 8 * SECOND);
    for pid in ["a", "b", "c", "d", "e", "late"] {
        room.touch(pid, 8 * SECOND);
    }

    let entries = room.log().entries().to_vec();
    let mut restored =
        Room::restore(seed, 5 * SECOND, config, entries, 8 * SECOND).expect("restores");
    assert_eq!(restored.state(), room.state());
    assert_eq!(restored.views(), room.views());
    assert_eq!(restored.log().head(), room.log().head());
    assert_eq!(restored.conversion(), room.conversion());
    assert_eq!(
        restored.tick(9 * SECOND, stock(1, 1)),
        room.tick(9 * SECOND, stock(1, 1)),
        "both admit the same next place"
    );
    assert_eq!(restored.log().head(), room.log().head());
}

#[test]
fn a_damaged_log_is_not_restored() {
    let seed = Seed::generate().expect("seed");
    let mut room = Room::new(seed.clone(), 5 * SECOND, RoomConfig::default(), 0);
    room.join("a", SECOND);
    room.join("b", SECOND);
    let mut entries = room.log().entries().to_vec();
    entries[1].at += 1;
    let err = Room::restore(seed, 5 * SECOND, RoomConfig::default(), entries, SECOND)
        .expect_err("a tampered entry");
    assert!(err.to_string().contains("entry 2"), "{err}");
}

#[test]
fn the_projection_admits_a_wave_at_the_opening_and_more_as_admissions_go_unused() {
    let mut room = room(10 * SECOND);
    for pid in ["a", "b", "c", "d"] {
        room.join(pid, SECOND);
    }
    // Two free tickets, conversion unknown (assumed a half), admissions last 30 s.
    let projection = room.projection(2 * SECOND, stock(2, 0));
    let first = projection.at(1).expect("the first place");
    let second = projection.at(2).expect("the second place");
    assert!(
        (10 * SECOND..12 * SECOND).contains(&first),
        "{projection:?}"
    );
    assert!(first <= second && second < 12 * SECOND, "{projection:?}");
    let third = projection
        .at(3)
        .expect("a slot returns from the first wave");
    assert!(
        (40 * SECOND..42 * SECOND).contains(&third),
        "{projection:?}"
    );
    // Each later wave is half the one before (half of the admitted do not order), so the
    // fourth place's turn is several windows away — and there is no fifth place.
    let fourth = projection.at(4).expect("the fourth place");
    assert!(fourth >= third + 60 * SECOND, "{projection:?}");
    assert_eq!(projection.at(5), None);

    let ended = {
        let mut sold = room;
        sold.tick(10 * SECOND, stock(0, 0));
        sold.projection(11 * SECOND, stock(0, 0))
    };
    assert!(
        ended.admitted_at.is_empty(),
        "nothing to project once sold out"
    );
}

#[test]
fn a_room_with_no_tickets_yet_pauses_rather_than_selling_out() {
    let mut room = room(0);
    room.join("a", 0);
    let nothing_yet = Stock {
        free: 0,
        held: 0,
        sold: 0,
    };
    assert!(room.tick(SECOND, nothing_yet).is_empty());
    assert_eq!(
        room.state(),
        RoomState::Paused,
        "not sold out: nothing was ever sold"
    );
    let listed = Stock {
        free: 1,
        held: 0,
        sold: 0,
    };
    assert_eq!(room.tick(2 * SECOND, listed), vec!["a".to_owned()]);
}
