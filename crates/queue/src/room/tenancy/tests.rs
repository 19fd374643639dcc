//! Leases and tenures against a real PostgreSQL database (a fresh one per test).

use std::sync::Arc;
use std::time::Duration;

use boxoffice_common::{Id, new_id};
use boxoffice_platform::testing::{TestDatabase, postgres_db};
use tokio::sync::{Notify, oneshot};

use super::{RoomLeases, Runner};
use crate::room::engine::{Room, RoomConfig};
use crate::room::fairness::Seed;
use crate::room::store::{PostgresRoomStore, RoomRecord, RoomStore};
use crate::room::writer::Appendix;

async fn store() -> (Arc<PostgresRoomStore>, TestDatabase) {
    let (pool, database) = postgres_db("boxoffice_rooms_lease")
        .await
        .expect("database");
    let store = PostgresRoomStore::open(pool, Arc::new(Notify::new()))
        .await
        .expect("store");
    (Arc::new(store), database)
}

/// `pid` joins `room` at `at`: what that adds to the log, written under `tenure`.
fn appendix(event: Id, tenure: Option<i64>, room: &mut Room, at: i64, pid: &str) -> Appendix {
    let before = room.log().entries().len();
    room.join(pid, at);
    let (done, _) = oneshot::channel();
    Appendix {
        event,
        entries: room.log().entries()[before..].to_vec(),
        members: Vec::new(),
        gate: None,
        tenure,
        done,
    }
}

/// Polls until `event`'s lease has lapsed (bounded).
async fn until_unheld(store: &PostgresRoomStore, event: Id) {
    for _ in 0..200 {
        if store.unheld().await.expect("unheld").contains(&event) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the lease never lapsed");
}

#[tokio::test]
async fn one_holder_at_a_time_and_a_lapsed_tenure_writes_nothing() {
    let (store, _database) = store().await;
    let event = new_id();
    let lease = Duration::from_millis(400);
    let hold = |holder: &'static str| {
        let store = Arc::clone(&store);
        async move {
            let address = format!("http://{holder}");
            store
                .hold(event, holder, &address, lease)
                .await
                .expect("hold")
        }
    };
    assert_eq!(store.runner(event).await.expect("runner"), Runner::NoRoom);

    // A takes the room; B cannot while A's lease runs; A's renewals keep its tenure.
    let first = hold("a").await.expect("a holds");
    assert_eq!(hold("b").await, None);
    assert_eq!(hold("a").await, Some(first));
    let seed = Seed::generate().expect("seed");
    let record = RoomRecord {
        event_id: event,
        opens_at: 10_000,
        per_account_limit: 1,
        seed: seed.reveal(),
        salt: "00".repeat(32),
        gate_version: 0,
    };
    let mut room = Room::new(seed, 10_000, RoomConfig::default(), 0);
    store
        .save_room(&record, room.log().entries(), None, Some(first))
        .await
        .expect("saved");
    assert_eq!(
        store.runner(event).await.expect("runner"),
        Runner::At("http://a".to_owned())
    );
    let written = appendix(event, Some(first), &mut room, 1, "pid-1");
    let refused = store.append(&[&written]).await.expect("append");
    assert_eq!(refused, Vec::<usize>::new());

    // A stops renewing (paused, cut off): once the lease lapses B takes the room with a
    // new tenure, and restores it from the log.
    until_unheld(&store, event).await;
    assert_eq!(store.runner(event).await.expect("runner"), Runner::Nobody);
    let second = hold("b").await.expect("b holds");
    assert!(second > first);
    let log = store.log(event).await.expect("log");
    let seed = Seed::from_hex(&record.seed).expect("seed");
    let mut restored =
        Room::restore(seed, 10_000, RoomConfig::default(), log, 2).expect("restored");

    // A, unaware, decides something: refused, while B's decision in the same batch is
    // written; the log holds one chain.
    let stale = appendix(event, Some(first), &mut room, 3, "pid-2");
    let fresh = appendix(event, Some(second), &mut restored, 3, "pid-3");
    let refused = store.append(&[&stale, &fresh]).await.expect("append");
    assert_eq!(refused, vec![0]);
    let log = store.log(event).await.expect("log");
    assert_eq!(log, restored.log().entries());
    assert_eq!(crate::room::verify(&log).broken_at, None);

    // A changing the room's settings is refused too, and changes nothing.
    let changed = RoomRecord {
        per_account_limit: 9,
        ..record.clone()
    };
    let refused = store.save_room(&changed, &[], None, Some(first)).await;
    assert!(
        refused.is_err_and(|err| err.is::<super::TenureOver>()),
        "a lapsed tenure's settings change"
    );
    let kept = store.room(event).await.expect("room").expect("a room");
    assert_eq!(kept.per_account_limit, 1);
    store
        .save_room(&changed, &[], None, Some(second))
        .await
        .expect("the runner's change");
    let kept = store.room(event).await.expect("room").expect("a room");
    assert_eq!(kept.per_account_limit, 9);

    // A renewing now is refused: B holds the room.
    assert_eq!(hold("a").await, None);

    // B lets go when it stops: A may take it at once.
    store.let_go(event, second).await.expect("let go");
    assert!(store.unheld().await.expect("unheld").contains(&event));
    assert!(hold("a").await.expect("a again") > second);
}
