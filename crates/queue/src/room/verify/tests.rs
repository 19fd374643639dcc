use super::super::engine::{Room, RoomConfig, Stock};
use super::super::log::FairnessLog;
use super::*;

/// A small sale, opened, with admissions, closed (seed revealed).
fn sale() -> Room {
    let mut room = Room::new(
        Seed::generate().expect("seed"),
        1_000,
        RoomConfig::default(),
        0,
    );
    for i in 0..10 {
        room.join(&format!("p{i}"), 500);
    }
    room.tick(
        1_000,
        Stock {
            free: 3,
            held: 0,
            sold: 0,
        },
    );
    room.join("late", 1_500);
    room.close(2_000);
    room
}

#[test]
fn a_fair_sale_verifies() {
    let room = sale();
    let verification = verify_lines(&room.log().to_lines());
    assert!(verification.holds(), "{verification:?}");
    assert_eq!(verification.seed_matches_commitment, Some(true));
    assert_eq!(verification.shuffle_matches, Some(true));
    assert_eq!(verification.entries, room.log().entries().len() as u64);
}

#[test]
fn a_tampered_entry_is_found_where_the_chain_breaks() {
    let lines = sale().log().to_lines();
    let tampered = lines.replacen("\"p3\"", "\"p9\"", 1);
    assert_ne!(tampered, lines);
    let verification = verify_lines(&tampered);
    let (seq, why) = verification.broken_at.clone().expect("broken");
    assert!(seq >= 2, "{seq}: {why}");
    assert!(!verification.holds());

    let mut entries: Vec<&str> = lines.lines().collect();
    entries.remove(3);
    let verification = verify_lines(&entries.join("\n"));
    assert_eq!(verification.broken_at.map(|(seq, _)| seq), Some(5));
    assert!(verify_lines("not json").broken_at.is_some());
}

#[test]
fn a_seed_other_than_the_committed_one_is_caught() {
    let mut log = FairnessLog::default();
    let seed = Seed::generate().expect("seed");
    log.append(
        0,
        What::Commit {
            commitment: seed.commitment(),
        },
    );
    let other = Seed::generate().expect("seed");
    log.append(
        1,
        What::Reveal {
            seed: other.reveal(),
        },
    );
    let verification = verify(log.entries());
    assert_eq!(verification.seed_matches_commitment, Some(false));
    assert!(!verification.holds());
}

#[test]
fn a_ranking_that_is_not_the_seeds_is_caught() {
    let seed = Seed::generate().expect("seed");
    let mut log = FairnessLog::default();
    log.append(
        0,
        What::Commit {
            commitment: seed.commitment(),
        },
    );
    for pid in ["a", "b", "c", "d"] {
        log.append(1, What::Join { pid: pid.into() });
    }
    let mut ranked: Vec<String> = seed
        .shuffle(["a", "b", "c", "d"])
        .into_iter()
        .map(str::to_owned)
        .collect();
    ranked.swap(0, 3);
    log.append(2, What::Ranked { pids: ranked });
    log.append(
        3,
        What::Reveal {
            seed: seed.reveal(),
        },
    );
    assert_eq!(verify(log.entries()).shuffle_matches, Some(false));
}

#[test]
fn admitting_a_place_behind_a_live_one_is_an_inversion_and_a_parked_one_is_not() {
    let mut log = FairnessLog::default();
    log.append(
        0,
        What::Commit {
            commitment: "c".into(),
        },
    );
    for pid in ["a", "b", "c"] {
        log.append(1, What::Join { pid: pid.into() });
    }
    log.append(
        1,
        What::Ranked {
            pids: vec!["a".into(), "b".into(), "c".into()],
        },
    );
    log.append(2, What::Lapse { pid: "a".into() });
    log.append(3, What::Admit { pid: "b".into() });
    assert_eq!(verify(log.entries()).inversions, 0, "a was parked");
    log.append(4, What::Return { pid: "a".into() });
    log.append(5, What::Admit { pid: "c".into() });
    assert_eq!(
        verify(log.entries()).inversions,
        1,
        "a was live and ahead of c"
    );
}
