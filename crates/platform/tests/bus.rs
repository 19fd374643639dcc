//! The in-process bus, the outbox relay and the consumer runner, driven together.
//!
//! The `EventBus` contract cases (ordering per consumer, redelivery on nak, de-duplication
//! of a re-published event, the runner's retry-then-park, the relay) run against both the
//! in-process bus and JetStream (a nats-server started per test). Receipts differ by
//! design — in-process: every consumer handled it; JetStream: stored — and are tested for
//! the in-process bus alone.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use boxoffice_common::events::{ExpirationComplete, TicketDeleted};
use boxoffice_common::new_id;
use boxoffice_platform::bus::{Envelope, EventBus, InProcessBus, NatsBus};
use boxoffice_platform::consumer::{self, EventHandler, Handled, RetryPolicy};
use boxoffice_platform::db::sqlite::SqliteDb;
use boxoffice_platform::outbox::sqlite::{SqliteOutbox, enqueue};
use boxoffice_platform::outbox::{OutboxStore, Relay};
use boxoffice_platform::testing::TestNats;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

fn event(version: i64) -> Envelope {
    Envelope::new(
        "test",
        time::OffsetDateTime::now_utc(),
        &TicketDeleted {
            id: new_id(),
            version,
        },
    )
}

const BOUND: Duration = Duration::from_secs(10);

/// A bus and whatever keeps it alive.
struct Bus {
    bus: Arc<dyn EventBus>,
    _server: Option<TestNats>,
}

async fn in_process() -> Bus {
    Bus {
        bus: Arc::new(InProcessBus::new()),
        _server: None,
    }
}

async fn jetstream() -> Bus {
    let server = TestNats::start().await.expect("nats-server");
    let bus = NatsBus::connect(server.url(), "EVENTS", "events")
        .await
        .expect("connect");
    Bus {
        bus: Arc::new(bus),
        _server: Some(server),
    }
}

macro_rules! contract {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[tokio::test]
            async fn in_process() {
                super::$case(super::in_process().await).await;
            }

            #[tokio::test]
            async fn jetstream() {
                super::$case(super::jetstream().await).await;
            }
        }
    )*};
}

contract!(
    a_consumer_receives_its_types_in_publication_order,
    a_nak_redelivers_with_the_next_attempt,
    a_republished_event_is_delivered_once,
    the_runner_retries_not_yet_events_then_parks_them,
    the_relay_publishes_committed_rows_once_and_marks_them_sent,
    queued_events_are_applied_in_groups_in_order_and_a_failed_group_one_at_a_time,
);

async fn a_consumer_receives_its_types_in_publication_order(bus: Bus) {
    let bus = bus.bus;
    let mut orders = bus
        .subscribe("orders", &["ticket:deleted"])
        .await
        .expect("subscribe");
    let mut other = bus
        .subscribe("other", &["expiration:complete"])
        .await
        .expect("subscribe");

    let sent: Vec<Envelope> = (0..20).map(event).collect();
    let mut receipts = Vec::new();
    for e in &sent {
        receipts.push(bus.publish(e).await.expect("publish"));
    }
    for expected in &sent {
        let delivery = tokio::time::timeout(BOUND, orders.next())
            .await
            .expect("in time")
            .expect("open");
        assert_eq!(&delivery.event, expected);
        assert_eq!(delivery.attempt, 1);
        delivery.ack().await;
    }
    for receipt in receipts {
        receipt.await.expect("confirmed once acknowledged");
    }
    let unrelated = Envelope::new(
        "test",
        time::OffsetDateTime::now_utc(),
        &ExpirationComplete { order_id: new_id() },
    );
    let receipt = bus.publish(&unrelated).await.expect("publish");
    let delivery = other.next().await.expect("open");
    assert_eq!(delivery.event, unrelated);
    delivery.ack().await;
    receipt.await.expect("confirmed");
}

async fn a_nak_redelivers_with_the_next_attempt(bus: Bus) {
    let bus = bus.bus;
    let mut subscription = bus
        .subscribe("orders", &["ticket:deleted"])
        .await
        .expect("subscribe");
    let sent = event(0);
    let receipt = bus.publish(&sent).await.expect("publish");
    let first = tokio::time::timeout(BOUND, subscription.next())
        .await
        .expect("delivered")
        .expect("open");
    assert_eq!((first.event.id, first.attempt), (sent.id, 1));
    first.nak(Duration::from_millis(10)).await;
    let second = tokio::time::timeout(BOUND, subscription.next())
        .await
        .expect("redelivered")
        .expect("open");
    assert_eq!((second.event.id, second.attempt), (sent.id, 2));
    second.ack().await;
    receipt.await.expect("confirmed");
}

async fn a_republished_event_is_delivered_once(bus: Bus) {
    let bus = bus.bus;
    let mut subscription = bus
        .subscribe("orders", &["ticket:deleted"])
        .await
        .expect("subscribe");
    let sent = event(0);
    let receipt = bus.publish(&sent).await.expect("publish");
    let delivery = tokio::time::timeout(BOUND, subscription.next())
        .await
        .expect("delivered")
        .expect("open");
    delivery.ack().await;
    receipt.await.expect("confirmed");

    // As after a crash between publishing and marking the outbox row sent.
    bus.publish(&sent)
        .await
        .expect("publish again")
        .await
        .expect("a duplicate counts as success");
    let next = event(1);
    let receipt = bus.publish(&next).await.expect("publish");
    let delivery = tokio::time::timeout(BOUND, subscription.next())
        .await
        .expect("delivered")
        .expect("open");
    assert_eq!(
        delivery.event.id, next.id,
        "the duplicate was not delivered"
    );
    delivery.ack().await;
    receipt.await.expect("confirmed");
}

#[tokio::test]
async fn an_in_process_receipt_waits_for_the_ack() {
    let bus = InProcessBus::new();
    let mut subscription = bus
        .subscribe("orders", &["ticket:deleted"])
        .await
        .expect("subscribe");
    let sent = event(0);
    let mut receipt = bus.publish(&sent).await.expect("publish");

    let first = subscription.next().await.expect("delivery");
    assert!(
        tokio::time::timeout(Duration::from_millis(50), &mut receipt)
            .await
            .is_err(),
        "not confirmed before the consumer acknowledges"
    );
    first.nak(Duration::from_millis(10)).await;
    let second = tokio::time::timeout(BOUND, subscription.next())
        .await
        .expect("redelivered")
        .expect("open");
    assert_eq!((second.event.id, second.attempt), (sent.id, 2));
    second.ack().await;
    receipt.await.expect("confirmed");
}

#[tokio::test]
async fn an_in_process_receipt_fails_when_the_consumer_goes_away() {
    let bus = InProcessBus::new();
    let subscription = bus
        .subscribe("orders", &["ticket:deleted"])
        .await
        .expect("subscribe");
    let receipt = bus.publish(&event(0)).await.expect("publish");
    drop(subscription);
    assert!(
        receipt.await.is_err(),
        "an unhandled event is never confirmed"
    );
}

/// Records what it is given; refuses events until `ready` says so.
#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<(uuid::Uuid, u32)>>,
    refuse: Mutex<bool>,
    parked: Mutex<Vec<(uuid::Uuid, String)>>,
}

#[async_trait::async_trait]
impl EventHandler for Recorder {
    async fn handle(&self, event: &Envelope) -> anyhow::Result<Handled> {
        let mut seen = self.seen.lock().expect("lock");
        let attempts = seen.iter().filter(|(id, _)| *id == event.id).count() as u32 + 1;
        seen.push((event.id, attempts));
        Ok(if *self.refuse.lock().expect("lock") {
            Handled::NotYet
        } else {
            Handled::Applied
        })
    }

    async fn park(&self, event: &Envelope, reason: &str) -> anyhow::Result<()> {
        self.parked
            .lock()
            .expect("lock")
            .push((event.id, reason.to_owned()));
        Ok(())
    }
}

fn fast() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        first_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        // Parked after its attempts, however young: the test waits for the parking.
        dependency_patience: Duration::ZERO,
    }
}

async fn the_runner_retries_not_yet_events_then_parks_them(bus: Bus) {
    let bus = bus.bus;
    let recorder = Arc::new(Recorder::default());
    *recorder.refuse.lock().expect("lock") = true;
    let stop = CancellationToken::new();
    let consumer = consumer::subscribe(
        Arc::clone(&bus),
        "orders",
        &["ticket:deleted"],
        recorder.clone(),
        fast(),
    )
    .await
    .expect("subscribe");
    tokio::spawn(consumer.run(stop.clone()));

    let poisoned = event(7);
    let receipt = bus.publish(&poisoned).await.expect("publish");
    tokio::time::timeout(BOUND, receipt)
        .await
        .expect("in time")
        .expect("confirmed");
    tokio::time::timeout(BOUND, async {
        while recorder.parked.lock().expect("lock").is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("parked in time");
    assert_eq!(
        recorder.seen.lock().expect("lock").len(),
        4,
        "delivered max_attempts times"
    );
    let parked = recorder.parked.lock().expect("lock").clone();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].0, poisoned.id);
    stop.cancel();
}

async fn the_relay_publishes_committed_rows_once_and_marks_them_sent(bus: Bus) {
    let dir = tempfile::tempdir().expect("dir");
    let db = SqliteDb::open(&dir.path().join("outbox.db"))
        .await
        .expect("open");
    sqlx::raw_sql(
        "CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, \
         envelope TEXT NOT NULL, sent_at TEXT)",
    )
    .execute(&db.writer)
    .await
    .expect("schema");
    let outbox = Arc::new(SqliteOutbox::new(db.clone()));
    // Rows committed before the relay starts, as after a crash.
    let sent: Vec<Envelope> = (0..50).map(event).collect();
    let mut tx = db.begin_write().await.expect("tx");
    for e in &sent {
        enqueue(&mut tx, e).await.expect("enqueue");
    }
    tx.commit().await.expect("commit");

    let bus = bus.bus;
    let recorder = Arc::new(Recorder::default());
    let stop = CancellationToken::new();
    let consumer = consumer::subscribe(
        Arc::clone(&bus),
        "orders",
        &["ticket:deleted"],
        recorder.clone(),
        fast(),
    )
    .await
    .expect("subscribe");
    tokio::spawn(consumer.run(stop.clone()));
    let wake = Arc::new(Notify::new());
    tokio::spawn(Relay::new("test", outbox.clone(), bus, wake).run(stop.clone()));

    tokio::time::timeout(BOUND, async {
        while !outbox.unsent_after(0, 100).await.expect("read").is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("every row is marked sent");
    let seen = recorder.seen.lock().expect("lock").clone();
    let seen_ids: Vec<_> = seen.iter().map(|(id, _)| *id).collect();
    let sent_ids: Vec<_> = sent.iter().map(|e| e.id).collect();
    assert_eq!(seen_ids, sent_ids, "each row delivered once, in order");
    stop.cancel();
}

/// Applies events alone or in groups, recording which; a group holding version
/// [`Grouper::POISON`] fails as a whole, and the single handling of version
/// [`Grouper::HOLD`] waits for `release`, so that later events queue up behind it.
#[derive(Default)]
struct Grouper {
    applied: Mutex<Vec<i64>>,
    groups: Mutex<Vec<Vec<i64>>>,
    release: Notify,
}

impl Grouper {
    const POISON: i64 = 13;
    const HOLD: i64 = 29;

    fn version(event: &Envelope) -> i64 {
        match event.event().expect("an event") {
            boxoffice_common::events::Event::TicketDeleted(t) => t.version,
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[async_trait::async_trait]
impl EventHandler for Grouper {
    async fn handle(&self, event: &Envelope) -> anyhow::Result<Handled> {
        let version = Self::version(event);
        if version == Self::HOLD {
            self.release.notified().await;
        }
        self.applied.lock().expect("lock").push(version);
        Ok(Handled::Applied)
    }

    async fn park(&self, _: &Envelope, reason: &str) -> anyhow::Result<()> {
        panic!("nothing should be parked: {reason}")
    }

    fn can_group(&self, _: &Envelope) -> bool {
        true
    }

    async fn handle_group(&self, events: &[&Envelope]) -> anyhow::Result<Vec<Handled>> {
        let versions: Vec<i64> = events.iter().map(|e| Self::version(e)).collect();
        anyhow::ensure!(!versions.contains(&Self::POISON), "a poisoned group");
        self.applied.lock().expect("lock").extend(&versions);
        self.groups.lock().expect("lock").push(versions);
        Ok(vec![Handled::Applied; events.len()])
    }
}

async fn queued_events_are_applied_in_groups_in_order_and_a_failed_group_one_at_a_time(bus: Bus) {
    let in_process = bus._server.is_none();
    let bus = bus.bus;
    let grouper = Arc::new(Grouper::default());
    let consumer = consumer::subscribe(
        Arc::clone(&bus),
        "orders",
        &["ticket:deleted"],
        grouper.clone(),
        fast(),
    )
    .await
    .expect("subscribe");
    // Queued before the consumer runs: the first group holds the poisoned event.
    let first: Vec<Envelope> = (0..=Grouper::HOLD).map(event).collect();
    for e in &first {
        drop(bus.publish(e).await.expect("publish"));
    }
    let stop = CancellationToken::new();
    tokio::spawn(consumer.run(stop.clone()));
    // While the held event waits, the next ones queue up behind it.
    tokio::time::timeout(BOUND, async {
        while grouper.applied.lock().expect("lock").len() < Grouper::HOLD as usize {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the first events in time");
    let second: Vec<Envelope> = (Grouper::HOLD + 1..60).map(event).collect();
    let mut receipts = Vec::new();
    for e in &second {
        receipts.push(bus.publish(e).await.expect("publish"));
    }
    grouper.release.notify_one();
    for receipt in receipts {
        tokio::time::timeout(BOUND, receipt)
            .await
            .expect("in time")
            .expect("confirmed");
    }
    tokio::time::timeout(BOUND, async {
        while grouper.applied.lock().expect("lock").len() < 60 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("every event in time");
    stop.cancel();

    let applied = grouper.applied.lock().expect("lock").clone();
    assert_eq!(
        applied,
        (0..60).collect::<Vec<_>>(),
        "each once, in publication order"
    );
    let groups = grouper.groups.lock().expect("lock").clone();
    assert!(
        groups.iter().all(|g| !g.contains(&Grouper::POISON)),
        "the poisoned group was never applied as a group: {groups:?}"
    );
    if in_process {
        // The in-process bus hands over everything queued: the events that waited behind
        // the held one form one group of 30; the first group failed and went one by one.
        assert_eq!(groups, vec![(Grouper::HOLD + 1..60).collect::<Vec<_>>()]);
    }
}
