//! [`FreshIds`]: who waits, for how long, and what wakes them — in memory and through
//! PostgreSQL's `NOTIFY`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use boxoffice_common::{Id, new_id};
use sqlx::Connection;
use tokio_util::sync::CancellationToken;
use uuid::{Timestamp, Uuid};

use super::*;

/// A replica of one id, and how often it was asked: `look` answers `Some` once `known`.
#[derive(Default)]
struct Replica {
    known: AtomicBool,
    looks: AtomicUsize,
}

impl Replica {
    async fn look(&self) -> Result<Option<()>, std::convert::Infallible> {
        self.looks.fetch_add(1, Ordering::SeqCst);
        Ok(self.known.load(Ordering::SeqCst).then_some(()))
    }

    fn looks(&self) -> usize {
        self.looks.load(Ordering::SeqCst)
    }

    /// Until `look` has been called `n` times (a waiter is registered, or was woken).
    async fn until_looked(&self, n: usize) {
        tokio::time::timeout(Duration::from_secs(10), async {
            while self.looks() < n {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the waiter looks in time");
    }
}

/// A v7 id made `seconds` ago (negative: in the future).
fn v7_aged(seconds: i64) -> Id {
    let at = OffsetDateTime::now_utc() - time::Duration::seconds(seconds);
    let millis = u64::try_from(at.unix_timestamp_nanos() / 1_000_000).expect("after 1970");
    Uuid::new_v7(Timestamp::from_unix(
        uuid::NoContext,
        millis / 1000,
        u32::try_from(millis % 1000).expect("ms") * 1_000_000,
    ))
}

#[tokio::test]
async fn a_waiter_is_woken_by_the_notice_of_its_id_not_by_polling() {
    let fresh = FreshIds::new("test", Duration::from_secs(60));
    let replica = Arc::new(Replica::default());
    let id = new_id();
    let waiting = {
        let (fresh, replica) = (fresh.clone(), Arc::clone(&replica));
        tokio::spawn(async move { fresh.lookup(id, || replica.look()).await })
    };
    // First look, then the look after registering: now it sleeps.
    replica.until_looked(2).await;
    fresh.notify(new_id());
    assert!(!waiting.is_finished(), "another id's notice wakes nobody");

    replica.known.store(true, Ordering::SeqCst);
    fresh.notify(id);
    let found = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("woken well before the bound")
        .expect("task")
        .expect("lookup");
    assert_eq!(found, Some(()));
    assert_eq!(replica.looks(), 3, "one look per wake, no polling");
    let stats = fresh.stats();
    assert_eq!((stats.waits, stats.found, stats.timed_out), (1, 1, 0));
    assert!(fresh.waiting().is_empty(), "the waiter unregistered");
}

#[tokio::test]
async fn a_commit_between_the_first_look_and_the_registration_is_not_missed() {
    let fresh = FreshIds::new("test", Duration::from_secs(60));
    let replica = Replica::default();
    let id = new_id();
    let mut first = true;
    let found = fresh
        .lookup(id, || {
            let first = std::mem::take(&mut first);
            let (replica, fresh) = (&replica, &fresh);
            async move {
                let seen = replica.look().await;
                if first {
                    // The consumer commits and notifies just after the first look, before
                    // the caller registered: the notice reaches nobody.
                    replica.known.store(true, Ordering::SeqCst);
                    fresh.notify(id);
                }
                seen
            }
        })
        .await
        .expect("lookup");
    assert_eq!(
        found,
        Some(()),
        "the look after registering sees the commit"
    );
    assert_eq!(replica.looks(), 2);
}

#[tokio::test(start_paused = true)]
async fn an_unknown_fresh_id_is_waited_for_until_it_is_bound_old_then_answered_unknown() {
    let bound = Duration::from_secs(5);
    let fresh = FreshIds::new("test", bound);
    let replica = Replica::default();
    let started = tokio::time::Instant::now();
    let found = fresh
        .lookup(v7_aged(2), || replica.look())
        .await
        .expect("lookup");
    let waited = started.elapsed();
    assert_eq!(found, None);
    assert!(
        waited >= Duration::from_millis(2_500) && waited <= Duration::from_secs(3),
        "an id made 2 s ago is waited for about 3 s more: {waited:?}"
    );
    assert_eq!(replica.looks(), 3, "first, registered and last look");
    let stats = fresh.stats();
    assert_eq!((stats.waits, stats.found, stats.timed_out), (1, 0, 1));
    assert!(stats.waited >= Duration::from_millis(2_500));
}

#[tokio::test]
async fn old_future_and_non_v7_ids_are_answered_at_once_with_one_look() {
    let fresh = FreshIds::new("test", Duration::from_secs(5));
    let replica = Replica::default();
    let ids = [
        v7_aged(6),
        v7_aged(-6),
        Uuid::new_v4(),
        Uuid::nil(),
        Uuid::max(),
    ];
    for id in ids {
        assert_eq!(fresh.lookup(id, || replica.look()).await, Ok(None));
    }
    assert_eq!(replica.looks(), ids.len(), "no look beyond the first");
    assert_eq!(
        fresh.wait_for(v7_aged(60), || replica.look()).await,
        Ok(None)
    );
    assert_eq!(
        replica.looks(),
        ids.len(),
        "wait_for does not look at an old id"
    );
    let stats = fresh.stats();
    assert_eq!((stats.not_fresh, stats.waits), (6, 0));
}

#[test]
fn an_id_is_fresh_for_the_bound_after_its_creation_and_a_little_skew_is_forgiven() {
    let fresh = FreshIds::new("test", Duration::from_secs(5));
    // The id first, then the time it is judged at: an id made a moment after `now`
    // would be younger than a second.
    let aged_one = v7_aged(1);
    let now = OffsetDateTime::now_utc();
    let left = fresh.remaining(aged_one, now).expect("fresh");
    assert!(left > Duration::from_millis(3_900) && left <= Duration::from_secs(4));
    assert_eq!(
        fresh.remaining(v7_aged(-2), now),
        Some(Duration::from_secs(5))
    );
    assert_eq!(fresh.remaining(v7_aged(5), now), None);
    assert_eq!(
        FreshIds::new("off", Duration::ZERO).remaining(new_id(), now),
        None
    );
}

#[tokio::test]
async fn notify_all_wakes_every_waiter_to_look_again() {
    let fresh = FreshIds::new("test", Duration::from_secs(60));
    let replica = Arc::new(Replica::default());
    let tasks: Vec<_> = (0..3)
        .map(|_| {
            let (fresh, replica) = (fresh.clone(), Arc::clone(&replica));
            tokio::spawn(async move { fresh.lookup(new_id(), || replica.look()).await })
        })
        .collect();
    replica.until_looked(6).await;
    replica.known.store(true, Ordering::SeqCst);
    fresh.notify_all();
    for task in tasks {
        let found = tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("woken")
            .expect("task");
        assert_eq!(found, Ok(Some(())));
    }
    assert!(fresh.waiting().is_empty());
}

#[tokio::test]
async fn a_notify_committed_on_postgres_wakes_a_waiter_in_another_session() {
    let (pool, database) = crate::testing::postgres_db("boxoffice_fresh")
        .await
        .expect("postgres");
    sqlx::query("CREATE TABLE known (id TEXT PRIMARY KEY)")
        .execute(&pool)
        .await
        .expect("table");
    let fresh = FreshIds::new("test", Duration::from_secs(60));
    let looks = Arc::new(AtomicUsize::new(0));
    let id = new_id();
    let look = {
        let (pool, looks) = (pool.clone(), Arc::clone(&looks));
        move || {
            let (pool, looks) = (pool.clone(), Arc::clone(&looks));
            async move {
                let seen = sqlx::query_scalar::<_, String>("SELECT id FROM known WHERE id = $1")
                    .bind(id.to_string())
                    .fetch_optional(&pool)
                    .await;
                // Counted once done, so the test knows the read is behind it.
                looks.fetch_add(1, Ordering::SeqCst);
                seen
            }
        }
    };
    let until_looked = |n: usize| {
        let looks = Arc::clone(&looks);
        async move {
            tokio::time::timeout(Duration::from_secs(10), async {
                while looks.load(Ordering::SeqCst) < n {
                    tokio::task::yield_now().await;
                }
            })
            .await
            .expect("looked in time");
        }
    };
    let waiting = {
        let fresh = fresh.clone();
        tokio::spawn(async move { fresh.lookup(id, look).await })
    };
    until_looked(2).await;
    let stop = CancellationToken::new();
    let listening = tokio::spawn(postgres::listen(pool.clone(), fresh.clone(), stop.clone()));
    // Once it listens, the listener wakes every waiter to look again.
    until_looked(3).await;

    // Another session commits the id and announces it in the same transaction.
    let mut writer = sqlx::PgConnection::connect(database.url())
        .await
        .expect("connect");
    let mut tx = writer.begin().await.expect("begin");
    sqlx::query("INSERT INTO known (id) VALUES ($1)")
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .expect("insert");
    postgres::announce(&mut tx, id).await.expect("announce");
    tx.commit().await.expect("commit");

    let found = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("woken by the commit, well before the bound")
        .expect("task")
        .expect("lookup");
    assert_eq!(found, Some(id.to_string()));
    assert_eq!(looks.load(Ordering::SeqCst), 4, "woken once, by the notify");
    stop.cancel();
    listening
        .await
        .expect("task")
        .expect("listener stops cleanly");
}
