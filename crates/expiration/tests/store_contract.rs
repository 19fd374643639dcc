//! Every `JobStore` method, the order-event consumer and the scheduler, on SQLite and
//! PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use boxoffice_common::events::{ExpirationComplete, OrderCreated, OrderTicket};
use boxoffice_common::order::OrderStatus;
use boxoffice_common::{Id, SystemClock, new_id};
use boxoffice_expiration::events::OrderEvents;
use boxoffice_expiration::scheduler::Scheduler;
use boxoffice_expiration::store::{JobStore, PostgresJobStore, SqliteJobStore};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::consumer::{EventHandler, Handled};
use boxoffice_platform::store::Claim;
use boxoffice_platform::testing::{postgres_db, sqlite_db};
use time::OffsetDateTime;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

type Subject = boxoffice_platform::testing::Subject<dyn JobStore>;

async fn sqlite() -> Subject {
    let (db, dir) = sqlite_db("expiration").await.expect("sqlite");
    let store = SqliteJobStore::open(db, Arc::new(Notify::new()))
        .await
        .expect("migrate");
    Subject::new(Arc::new(store), dir)
}

async fn postgres() -> Subject {
    let (pool, database) = postgres_db("boxoffice_expiration").await.expect("postgres");
    let store = PostgresJobStore::open(pool, Arc::new(Notify::new()))
        .await
        .expect("migrate");
    Subject::new(Arc::new(store), database)
}

boxoffice_platform::on_both_databases!(
    a_moved_hold_end_keeps_the_later_job,
    a_job_is_scheduled_once_per_event,
    only_due_jobs_fire_each_with_its_event,
    concurrent_workers_fire_every_job_exactly_once,
    the_consumer_schedules_and_ignores_duplicates,
    the_scheduler_fires_overdue_jobs_at_start,
);

fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_790_000_000 + seconds).expect("time")
}

fn claim(event_id: Id) -> Claim<'static> {
    Claim {
        consumer: "expiration",
        event_id,
    }
}

fn expiration(order_id: Id) -> Envelope {
    Envelope::new(
        "expiration",
        OffsetDateTime::now_utc(),
        &ExpirationComplete { order_id },
    )
}

async fn fired_orders(store: &Arc<dyn JobStore>) -> Vec<Id> {
    let rows = store
        .plumbing()
        .outbox()
        .unsent_after(0, 10_000)
        .await
        .expect("outbox");
    rows.iter()
        .map(|p| {
            p.event
                .data::<ExpirationComplete>()
                .expect("payload")
                .order_id
        })
        .collect()
}

async fn a_job_is_scheduled_once_per_event(s: Subject) {
    let (event, order) = (new_id(), new_id());
    assert!(
        s.store
            .schedule(claim(event), order, at(10))
            .await
            .expect("schedule")
    );
    assert!(
        !s.store
            .schedule(claim(event), order, at(10))
            .await
            .expect("schedule")
    );
    assert!(
        s.store
            .schedule(claim(new_id()), order, at(10))
            .await
            .expect("same due time")
    );
    assert_eq!(
        s.store.pending().await.expect("count"),
        1,
        "one job per order and due time"
    );
    assert!(
        s.store
            .schedule(claim(new_id()), order, at(99))
            .await
            .expect("a moved hold end")
    );
    assert_eq!(s.store.pending().await.expect("count"), 2);
    assert_eq!(s.store.next_due().await.expect("next"), Some(at(10)));
    s.store.plumbing().ping().await.expect("ping");
}

async fn only_due_jobs_fire_each_with_its_event(s: Subject) {
    assert_eq!(s.store.next_due().await.expect("next"), None);
    let (early, late) = (new_id(), new_id());
    s.store
        .schedule(claim(new_id()), early, at(10))
        .await
        .expect("schedule");
    s.store
        .schedule(claim(new_id()), late, at(20))
        .await
        .expect("schedule");

    assert!(
        s.store
            .fire_due(at(9), 10, &expiration)
            .await
            .expect("fire")
            .is_empty()
    );
    assert_eq!(
        s.store
            .fire_due(at(10), 10, &expiration)
            .await
            .expect("fire"),
        vec![early]
    );
    assert_eq!(s.store.next_due().await.expect("next"), Some(at(20)));
    assert_eq!(
        s.store
            .fire_due(at(30), 10, &expiration)
            .await
            .expect("fire"),
        vec![late]
    );
    assert!(
        s.store
            .fire_due(at(30), 10, &expiration)
            .await
            .expect("fire")
            .is_empty()
    );
    assert_eq!(fired_orders(&s.store).await, vec![early, late]);
    assert_eq!(s.store.pending().await.expect("count"), 0);
}

async fn concurrent_workers_fire_every_job_exactly_once(s: Subject) {
    let mut orders = Vec::new();
    for i in 0..200 {
        let order = new_id();
        s.store
            .schedule(claim(new_id()), order, at(i % 7))
            .await
            .expect("schedule");
        orders.push(order);
    }
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let store = Arc::clone(&s.store);
            tokio::spawn(async move {
                let mut fired = Vec::new();
                loop {
                    let batch = store
                        .fire_due(at(100), 16, &expiration)
                        .await
                        .expect("fire");
                    if batch.is_empty() {
                        break fired;
                    }
                    fired.extend(batch);
                }
            })
        })
        .collect();
    let mut fired = Vec::new();
    for worker in workers {
        fired.extend(worker.await.expect("worker"));
    }
    fired.sort();
    orders.sort();
    assert_eq!(fired, orders, "every job fired once");
    let mut published = fired_orders(&s.store).await;
    published.sort();
    assert_eq!(published, orders, "one event per job");
}

fn order_created(order: Id, expires_at: OffsetDateTime) -> Envelope {
    Envelope::new(
        "orders",
        OffsetDateTime::now_utc(),
        &OrderCreated {
            id: order,
            version: 0,
            status: OrderStatus::Created,
            user_id: new_id(),
            expires_at,
            ticket: OrderTicket {
                id: new_id(),
                price: Some(1000),
            },
            tickets: vec![],
        },
    )
}

async fn the_consumer_schedules_and_ignores_duplicates(s: Subject) {
    let scheduled = Arc::new(Notify::new());
    let handler = OrderEvents::new(Arc::clone(&s.store), Arc::clone(&scheduled));
    let event = order_created(new_id(), at(60));
    assert_eq!(
        handler.handle(&event).await.expect("handle"),
        Handled::Applied
    );
    tokio::time::timeout(Duration::from_secs(1), scheduled.notified())
        .await
        .expect("the worker is woken");
    assert_eq!(
        handler.handle(&event).await.expect("handle"),
        Handled::Ignored
    );
    assert_eq!(s.store.pending().await.expect("count"), 1);
}

async fn the_scheduler_fires_overdue_jobs_at_start(s: Subject) {
    let overdue = new_id();
    let future = new_id();
    let now = OffsetDateTime::now_utc();
    s.store
        .schedule(claim(new_id()), overdue, now - time::Duration::minutes(5))
        .await
        .expect("schedule");
    s.store
        .schedule(claim(new_id()), future, now + time::Duration::hours(1))
        .await
        .expect("schedule");

    let stop = CancellationToken::new();
    let scheduler = Scheduler::new(
        Arc::clone(&s.store),
        Arc::new(SystemClock),
        Arc::new(Notify::new()),
    );
    tokio::spawn(scheduler.run(stop.clone()));
    tokio::time::timeout(Duration::from_secs(10), async {
        while fired_orders(&s.store).await.is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the overdue job fires");
    stop.cancel();
    assert_eq!(fired_orders(&s.store).await, vec![overdue]);
    assert_eq!(
        s.store.pending().await.expect("count"),
        1,
        "the future job waits"
    );
}

async fn a_moved_hold_end_keeps_the_later_job(s: Subject) {
    let order = new_id();
    s.store
        .schedule(claim(new_id()), order, at(10))
        .await
        .expect("schedule");
    s.store
        .schedule(claim(new_id()), order, at(50))
        .await
        .expect("schedule");
    assert_eq!(
        s.store
            .fire_due(at(20), 10, &expiration)
            .await
            .expect("fire"),
        vec![order]
    );
    assert_eq!(
        s.store.next_due().await.expect("next"),
        Some(at(50)),
        "the extended hold still has its job"
    );
    assert_eq!(
        s.store
            .fire_due(at(60), 10, &expiration)
            .await
            .expect("fire"),
        vec![order]
    );
}
