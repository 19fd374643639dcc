//! Read your own writes: a request waiting for a ticket the replica has not applied yet
//! is woken by the consumer's commit — in the same process on SQLite, and from another
//! replica through PostgreSQL's `LISTEN`/`NOTIFY`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use boxoffice_common::{SystemClock, new_id};
use boxoffice_orders::events::OrdersEvents;
use boxoffice_orders::store::{OrderStore, PostgresOrderStore, SqliteOrderStore};
use boxoffice_platform::consumer::{EventHandler, Handled};
use boxoffice_platform::fresh::{self, FreshIds};
use boxoffice_platform::runtime::Supervisor;
use boxoffice_platform::testing::{postgres_db, sqlite_db};
use tokio::sync::Notify;

use crate::support::{CEILING, ticket_event};

/// Long enough never to be reached here: a waiter that returns was woken.
const BOUND: Duration = Duration::from_secs(60);

#[tokio::test]
async fn sqlite_the_consumers_commit_wakes_a_request_waiting_for_its_ticket() {
    let (db, _dir) = sqlite_db("orders").await.expect("sqlite");
    let store = SqliteOrderStore::open(db, Arc::new(Notify::new()))
        .await
        .expect("migrate");
    // One process: the consumer and the request share their waiters.
    let fresh = FreshIds::new("orders", BOUND);
    woken_by_the_commit(Arc::new(store), fresh.clone(), fresh, None).await;
}

#[tokio::test]
async fn postgres_another_replicas_commit_wakes_a_request_through_listen_notify() {
    let (pool, _database) = postgres_db("boxoffice_orders").await.expect("postgres");
    let store = PostgresOrderStore::open(pool.clone(), Arc::new(Notify::new()))
        .await
        .expect("migrate");
    // Two replicas: the consumer runs in one, the request waits in the other, which
    // hears of the commit only through its listener.
    let consumer_side = FreshIds::new("orders", BOUND);
    let request_side = FreshIds::new("orders", BOUND);
    woken_by_the_commit(Arc::new(store), consumer_side, request_side, Some(pool)).await;
}

async fn woken_by_the_commit(
    store: Arc<dyn OrderStore>,
    consumer_side: FreshIds,
    request_side: FreshIds,
    listen_on: Option<sqlx::PgPool>,
) {
    let handler = OrdersEvents::new(
        Arc::clone(&store),
        Arc::new(SystemClock),
        CEILING,
        consumer_side,
    );
    let ticket = new_id();
    let looks = Arc::new(AtomicUsize::new(0));
    let waiting = {
        let (store, looks, fresh) = (Arc::clone(&store), Arc::clone(&looks), request_side.clone());
        tokio::spawn(async move {
            fresh
                .lookup(ticket, || {
                    let (store, looks) = (Arc::clone(&store), Arc::clone(&looks));
                    async move {
                        let seen = store.ticket(ticket).await;
                        // Counted once done, so the test knows the read is behind it.
                        looks.fetch_add(1, Ordering::SeqCst);
                        seen
                    }
                })
                .await
        })
    };
    // The first look missed; the second, after registering, too: now it sleeps.
    until_looked(&looks, 2).await;
    let supervisor = Supervisor::new();
    if let Some(pool) = listen_on {
        supervisor.spawn(
            "fresh-ids listener",
            fresh::postgres::listen(pool, request_side.clone(), supervisor.stopping()),
        );
        // Once listening, the listener wakes every waiter to look again.
        until_looked(&looks, 3).await;
    }
    let before = looks.load(Ordering::SeqCst);

    assert_eq!(
        handler
            .handle(&ticket_event(ticket, 0, "Concert"))
            .await
            .expect("handle"),
        Handled::Applied
    );
    let found = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("woken by the commit, long before the bound")
        .expect("task")
        .expect("lookup")
        .expect("the ticket is known now");
    assert_eq!(found.title, "Concert");
    assert_eq!(
        looks.load(Ordering::SeqCst),
        before + 1,
        "one wake, after the commit: the look it caused found the ticket"
    );
    let stats = request_side.stats();
    assert_eq!((stats.waits, stats.found, stats.timed_out), (1, 1, 0));
    supervisor
        .probe()
        .check()
        .await
        .expect("the listener kept running");
    supervisor.shutdown().await;
}

async fn until_looked(looks: &AtomicUsize, n: usize) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while looks.load(Ordering::SeqCst) < n {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the waiter looks in time");
}
