//! What every store case shares: the subjects (SQLite, and Redis under a fresh key prefix
//! with its change follower running), a clock the test moves, and events to feed in.

use std::sync::{Arc, Mutex};

use boxoffice_common::events::{
    OrderCancelled, OrderCreated, OrderTicket, QUEUE_LINE, QueueLine, TicketCreated,
};
use boxoffice_common::order::{CancelReason, OrderStatus};
use boxoffice_common::{Clock, Id, new_id};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::consumer::{EventHandler, Handled};
use boxoffice_platform::fresh::FreshIds;
use boxoffice_platform::testing::{TestRedis, sqlite_db};
use boxoffice_queue::domain::Rules;
use boxoffice_queue::events::QueueEvents;
use boxoffice_queue::service::QueueService;
use boxoffice_queue::store::{QueueStore, RedisQueueStore, SqliteQueueStore};
use time::OffsetDateTime;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub type Subject = boxoffice_platform::testing::Subject<dyn QueueStore>;

pub async fn sqlite() -> Subject {
    let (db, dir) = sqlite_db("queue").await.expect("sqlite");
    let store = SqliteQueueStore::open(db, Arc::new(Notify::new()))
        .await
        .expect("migrate");
    Subject::new(Arc::new(store), dir)
}

/// The store's key prefix (deleted at the end) and its change follower's stop signal.
struct RedisKeys {
    _keys: TestRedis,
    stop: CancellationToken,
}

impl Drop for RedisKeys {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// A Redis store whose background work runs as the service's supervisor would run it.
pub async fn redis() -> Subject {
    let keys = TestRedis::new();
    let stop = CancellationToken::new();
    let store = RedisQueueStore::connect(keys.url(), keys.prefix(), Arc::new(Notify::new()))
        .await
        .expect("Redis on REDIS_URL or 127.0.0.1:6379");
    let mut follower = store.background().expect("Redis follows other replicas");
    tokio::spawn(follower(stop.clone()));
    Subject::new(Arc::new(store), RedisKeys { _keys: keys, stop })
}

/// A clock the test moves.
#[derive(Debug)]
pub struct TestClock(Mutex<OffsetDateTime>);

impl TestClock {
    pub fn new() -> Arc<Self> {
        Arc::new(Self(Mutex::new(OffsetDateTime::now_utc())))
    }
    pub fn advance(&self, by: time::Duration) {
        *self.0.lock().expect("clock") += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().expect("clock")
    }
}

pub const TURN: time::Duration = time::Duration::seconds(120);

pub fn service(s: &Subject, clock: Arc<TestClock>) -> QueueService {
    // A zero bound: these cases never wait for fresh tickets (see `fresh`).
    let fresh = FreshIds::new("queue", std::time::Duration::ZERO);
    QueueService::new(Arc::clone(&s.store), clock, Rules { turn: TURN }, fresh)
}

pub fn listed(ticket: Id, seller: Id) -> Envelope {
    let data = TicketCreated {
        id: ticket,
        version: 0,
        title: "Show".into(),
        price: 1000,
        user_id: seller,
        event_id: None,
    };
    Envelope::new("tickets", OffsetDateTime::now_utc(), &data)
}

pub fn ordered(ticket: Id, order: Id, buyer: Id) -> Envelope {
    let data = OrderCreated {
        id: order,
        version: 0,
        status: OrderStatus::Created,
        user_id: buyer,
        expires_at: OffsetDateTime::now_utc() + time::Duration::minutes(15),
        ticket: OrderTicket {
            id: ticket,
            price: Some(1000),
        },
        tickets: vec![],
    };
    Envelope::new("orders", OffsetDateTime::now_utc(), &data)
}

pub fn cancelled(ticket: Id, order: Id) -> Envelope {
    let data = OrderCancelled {
        id: order,
        version: 1,
        reason: CancelReason::Expired,
        ticket: OrderTicket {
            id: ticket,
            price: None,
        },
        tickets: vec![],
    };
    Envelope::new("orders", OffsetDateTime::now_utc(), &data)
}

/// A listed ticket held by an order; returns (ticket, order).
pub async fn held(events: &QueueEvents) -> (Id, Id) {
    let (ticket, order) = (new_id(), new_id());
    for event in [listed(ticket, new_id()), ordered(ticket, order, new_id())] {
        assert_eq!(
            events.handle(&event).await.expect("handle"),
            Handled::Applied
        );
    }
    (ticket, order)
}

/// The `queue:line` events in the outbox, oldest first.
pub async fn gate_events(s: &Subject) -> Vec<QueueLine> {
    s.store
        .plumbing()
        .outbox()
        .unsent_after(0, 1000)
        .await
        .expect("outbox")
        .into_iter()
        .filter(|pending| pending.event.kind == QUEUE_LINE)
        .map(|pending| pending.event.data().expect("queue:line"))
        .collect()
}
