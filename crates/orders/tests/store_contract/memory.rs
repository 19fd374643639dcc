//! The embedded store's memory of holds and replicas: in step with every commit that
//! holds, frees or updates a ticket, rebuilt from the file when the store is opened again,
//! and absent from the PostgreSQL store (several replicas write its database).

use std::sync::Arc;

use boxoffice_common::new_id;
use boxoffice_orders::store::{OrderStore, ReplicaDecision, SqliteOrderStore};
use boxoffice_platform::store::Claim;
use boxoffice_platform::testing::sqlite_db;
use tokio::sync::Notify;

use crate::support::{cancel_change, event, order, postgres, replica, saved};

fn claim() -> Claim<'static> {
    Claim {
        consumer: "orders",
        event_id: new_id(),
    }
}

#[tokio::test]
async fn the_sqlite_store_remembers_holds_and_replicas_in_step_with_its_commits() {
    let (db, _dir) = sqlite_db("orders").await.expect("sqlite");
    let store = SqliteOrderStore::open(db.clone(), Arc::new(Notify::new()))
        .await
        .expect("migrate");
    let ticket = new_id();
    assert_eq!(store.recall(ticket), None, "never seen");

    let v0 = replica(ticket, 0, "v0");
    store
        .apply_to_replica(
            ticket,
            claim(),
            Box::new(move |_| ReplicaDecision::Upsert(v0)),
        )
        .await
        .expect("apply");
    assert_eq!(
        store.recall(ticket),
        Some((replica(ticket, 0, "v0"), false))
    );

    let held = order(new_id(), ticket, 0);
    assert!(store.insert(&held, &event()).await.expect("insert"));
    assert_eq!(store.recall(ticket).map(|(_, held)| held), Some(true));
    let loser = order(new_id(), ticket, 1);
    assert!(!store.insert(&loser, &event()).await.expect("insert"));
    assert_eq!(
        store.recall(ticket).map(|(_, held)| held),
        Some(true),
        "a refused insert holds nothing, and frees nothing"
    );

    // Opened again on the same file: the holds come back from `ticket_holds`.
    let reopened = SqliteOrderStore::open(db.clone(), Arc::new(Notify::new()))
        .await
        .expect("reopen");
    reopened.ticket_with_line(ticket).await.expect("read");
    assert_eq!(reopened.recall(ticket).map(|(_, held)| held), Some(true));

    saved(
        store
            .modify(held.id, None, cancel_change())
            .await
            .expect("cancel"),
    );
    assert_eq!(store.recall(ticket).map(|(_, held)| held), Some(false));
    let v1 = replica(ticket, 1, "v1");
    store
        .apply_to_replica(
            ticket,
            claim(),
            Box::new(move |_| ReplicaDecision::Upsert(v1)),
        )
        .await
        .expect("apply");
    assert_eq!(
        store.recall(ticket),
        Some((replica(ticket, 1, "v1"), false))
    );
}

#[tokio::test]
async fn the_postgres_store_keeps_no_memory() {
    let s = postgres().await;
    let ticket = new_id();
    s.store
        .insert(&order(new_id(), ticket, 0), &event())
        .await
        .expect("insert");
    s.store.ticket_with_line(ticket).await.expect("read");
    assert_eq!(s.store.recall(ticket), None);
}
