//! Every `QueueStore` behaviour the service relies on, through the service, its event
//! consumer and its turn timer — on SQLite and on a real Redis (a fresh key prefix per test).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use boxoffice_common::events::{
    OrderCancelled, OrderCompleted, OrderCreated, OrderTicket, QUEUE_LINE, QueueLine, TicketCreated,
};
use boxoffice_common::{Clock, Id, new_id};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::consumer::{EventHandler, Handled};
use boxoffice_platform::testing::{TestRedis, sqlite_db};
use boxoffice_queue::domain::Rules;
use boxoffice_queue::events::QueueEvents;
use boxoffice_queue::scheduler::TurnTimer;
use boxoffice_queue::service::QueueService;
use boxoffice_queue::store::{QueueStore, RedisQueueStore, SqliteQueueStore};
use time::OffsetDateTime;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

type Subject = boxoffice_platform::testing::Subject<dyn QueueStore>;

async fn sqlite() -> Subject {
    let (db, dir) = sqlite_db("queue").await.expect("sqlite");
    let store = SqliteQueueStore::open(db, Arc::new(Notify::new()))
        .await
        .expect("migrate");
    Subject::new(Arc::new(store), dir)
}

/// The store's key prefix (deleted at the end) and its pub/sub follower's stop signal.
struct RedisKeys {
    _keys: TestRedis,
    stop: CancellationToken,
}

impl Drop for RedisKeys {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn redis() -> Subject {
    let keys = TestRedis::new();
    let stop = CancellationToken::new();
    let store = RedisQueueStore::connect(
        keys.url(),
        keys.prefix(),
        Arc::new(Notify::new()),
        stop.clone(),
    )
    .await
    .expect("Redis on REDIS_URL or 127.0.0.1:6379");
    Subject::new(Arc::new(store), RedisKeys { _keys: keys, stop })
}

boxoffice_platform::on_each_subject!(
    [sqlite, redis]
    a_lapsed_hold_gives_the_head_the_turn_and_tells_the_orders_service,
    a_redelivered_event_changes_nothing,
    concurrent_joins_get_distinct_places_in_arrival_order,
    two_turn_timers_hand_an_unused_turn_on_once,
    a_sale_clears_the_line,
    the_change_feed_names_changed_tickets,
    the_outbox_is_read_settled_republished_and_purged,
    parked_events_are_kept_with_their_reason,
);

/// A clock the test moves.
#[derive(Debug)]
struct TestClock(Mutex<OffsetDateTime>);

impl TestClock {
    fn new() -> Arc<Self> {
        Arc::new(Self(Mutex::new(OffsetDateTime::now_utc())))
    }
    fn advance(&self, by: time::Duration) {
        *self.0.lock().expect("clock") += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().expect("clock")
    }
}

const TURN: time::Duration = time::Duration::seconds(120);

fn service(s: &Subject, clock: Arc<TestClock>) -> QueueService {
    QueueService::new(Arc::clone(&s.store), clock, Rules { turn: TURN })
}

fn listed(ticket: Id, seller: Id) -> Envelope {
    let data = TicketCreated {
        id: ticket,
        version: 0,
        title: "Show".into(),
        price: 1000,
        user_id: seller,
    };
    Envelope::new("tickets", OffsetDateTime::now_utc(), &data)
}

fn ordered(ticket: Id, order: Id, buyer: Id) -> Envelope {
    let data = OrderCreated {
        id: order,
        version: 0,
        status: "created".into(),
        user_id: buyer,
        expires_at: OffsetDateTime::now_utc() + time::Duration::minutes(15),
        ticket: OrderTicket {
            id: ticket,
            price: Some(1000),
        },
    };
    Envelope::new("orders", OffsetDateTime::now_utc(), &data)
}

fn cancelled(ticket: Id, order: Id) -> Envelope {
    let data = OrderCancelled {
        id: order,
        version: 1,
        reason: "expired".into(),
        ticket: OrderTicket {
            id: ticket,
            price: None,
        },
    };
    Envelope::new("orders", OffsetDateTime::now_utc(), &data)
}

/// A listed ticket held by an order; returns (ticket, order).
async fn held(events: &QueueEvents) -> (Id, Id) {
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
async fn gate_events(s: &Subject) -> Vec<QueueLine> {
    s.store
        .outbox()
        .unsent_after(0, 1000)
        .await
        .expect("outbox")
        .into_iter()
        .filter(|pending| pending.event.kind == QUEUE_LINE)
        .map(|pending| pending.event.data().expect("queue:line"))
        .collect()
}

async fn a_lapsed_hold_gives_the_head_the_turn_and_tells_the_orders_service(s: Subject) {
    let clock = TestClock::new();
    let service = service(&s, clock.clone());
    let events = QueueEvents::new(service.clone());
    let (ticket, order) = held(&events).await;
    let (first, second) = (new_id(), new_id());

    let place = service.join(first, ticket).await.expect("join");
    assert_eq!((place.position, place.total), (1, 1));
    let place = service.join(second, ticket).await.expect("join");
    assert_eq!((place.position, place.total), (2, 2));
    let gates = gate_events(&s).await;
    assert_eq!(
        gates.len(),
        1,
        "only the line becoming non-empty is news: {gates:?}"
    );
    assert_eq!((gates[0].waiting, gates[0].turn.is_none()), (1, true));

    assert_eq!(
        events
            .handle(&cancelled(ticket, order))
            .await
            .expect("handle"),
        Handled::Applied
    );
    let place = service
        .status(first, ticket)
        .await
        .expect("status")
        .expect("in line");
    assert_eq!(place.turn_expires_at, Some(clock.now() + TURN));
    assert_eq!(place.estimated_wait_seconds, 0);
    let gate = gate_events(&s).await.pop().expect("gate");
    assert_eq!(gate.waiting, 2);
    assert_eq!(
        gate.turn.map(|t| (t.user_id, t.expires_at)),
        Some((first, clock.now() + TURN))
    );
    assert!(gate.version > 1);

    // Redis scores turns in milliseconds.
    let next = s
        .store
        .next_turn_end()
        .await
        .expect("next")
        .expect("a turn");
    assert!(
        (next - (clock.now() + TURN)).abs() < time::Duration::milliseconds(1),
        "{next}"
    );
    assert!(
        s.store
            .turns_ended(clock.now(), 10)
            .await
            .expect("ended")
            .is_empty()
    );
    assert_eq!(
        s.store
            .turns_ended(clock.now() + TURN, 10)
            .await
            .expect("ended"),
        vec![ticket]
    );
}

async fn a_redelivered_event_changes_nothing(s: Subject) {
    let service = service(&s, TestClock::new());
    let events = QueueEvents::new(service.clone());
    let (ticket, order) = held(&events).await;
    let buyer = new_id();
    service.join(buyer, ticket).await.expect("join");
    let cancel = cancelled(ticket, order);
    assert_eq!(
        events.handle(&cancel).await.expect("handle"),
        Handled::Applied
    );
    let before = s.store.snapshot(ticket, buyer).await.expect("snapshot");
    for _ in 0..3 {
        assert_eq!(
            events.handle(&cancel).await.expect("handle"),
            Handled::Ignored
        );
    }
    assert_eq!(
        s.store.snapshot(ticket, buyer).await.expect("snapshot"),
        before
    );
    // A late order:created of the cancelled order holds nothing.
    let late = ordered(ticket, order, new_id());
    events.handle(&late).await.expect("handle");
    let after = s.store.snapshot(ticket, buyer).await.expect("snapshot");
    assert_eq!(after.state.holder, None);
    assert_eq!(after.state.turn.map(|t| t.user_id), Some(buyer));
}

async fn concurrent_joins_get_distinct_places_in_arrival_order(s: Subject) {
    let service = service(&s, TestClock::new());
    let events = QueueEvents::new(service.clone());
    let (ticket, _) = held(&events).await;
    let joins: Vec<_> = (0..40)
        .map(|_| {
            let service = service.clone();
            let buyer = new_id();
            tokio::spawn(async move { (buyer, service.join(buyer, ticket).await.expect("join")) })
        })
        .collect();
    let mut joined = Vec::new();
    for join in joins {
        joined.push(join.await.expect("task"));
    }
    let mut positions = Vec::new();
    for (buyer, place) in joined {
        // Later joins only lengthen the line: the place given is the place kept.
        let now = service
            .status(buyer, ticket)
            .await
            .expect("status")
            .expect("in line");
        assert_eq!(now.position, place.position);
        assert_eq!(now.total, 40);
        positions.push(place.position);
    }
    positions.sort_unstable();
    assert_eq!(positions, (1..=40).collect::<Vec<u64>>());
}

async fn two_turn_timers_hand_an_unused_turn_on_once(s: Subject) {
    let clock = TestClock::new();
    let service = service(&s, clock.clone());
    let events = QueueEvents::new(service.clone());
    let (ticket, order) = held(&events).await;
    let (first, second) = (new_id(), new_id());
    service.join(first, ticket).await.expect("join");
    service.join(second, ticket).await.expect("join");
    events
        .handle(&cancelled(ticket, order))
        .await
        .expect("handle");

    let stop = CancellationToken::new();
    for _ in 0..2 {
        tokio::spawn(TurnTimer::new(service.clone()).run(stop.clone()));
    }
    clock.advance(TURN);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let place = service.status(second, ticket).await.expect("status");
        if place.is_some_and(|p| p.turn_expires_at.is_some()) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the turn never passed on"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    assert_eq!(service.status(first, ticket).await.expect("status"), None);
    let handed_to_second = gate_events(&s)
        .await
        .into_iter()
        .filter(|gate| gate.turn.as_ref().is_some_and(|t| t.user_id == second))
        .count();
    assert_eq!(handed_to_second, 1, "one hand-over, not one per timer");
}

async fn a_sale_clears_the_line(s: Subject) {
    let service = service(&s, TestClock::new());
    let events = QueueEvents::new(service.clone());
    let (ticket, order) = held(&events).await;
    let buyers: Vec<Id> = (0..5).map(|_| new_id()).collect();
    for buyer in &buyers {
        service.join(*buyer, ticket).await.expect("join");
    }
    let sold = OrderCompleted {
        id: order,
        version: 2,
        ticket: OrderTicket {
            id: ticket,
            price: None,
        },
    };
    let event = Envelope::new("orders", OffsetDateTime::now_utc(), &sold);
    assert_eq!(
        events.handle(&event).await.expect("handle"),
        Handled::Applied
    );
    for buyer in &buyers {
        assert_eq!(service.status(*buyer, ticket).await.expect("status"), None);
    }
    let gate = gate_events(&s).await.pop().expect("gate");
    assert_eq!((gate.waiting, gate.turn), (0, None));
    let refused = service.join(new_id(), ticket).await;
    assert!(
        matches!(&refused, Err(e) if e.to_string() == "Ticket is already sold"),
        "{refused:?}"
    );
}

async fn the_change_feed_names_changed_tickets(s: Subject) {
    let service = service(&s, TestClock::new());
    let events = QueueEvents::new(service.clone());
    let (ticket, _) = held(&events).await;
    let mut changes = s.store.changes();
    // Redis delivers the feed through pub/sub: join until the subscription is live.
    let received = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            service.join(new_id(), ticket).await.expect("join");
            if let Ok(Ok(id)) =
                tokio::time::timeout(Duration::from_millis(200), changes.recv()).await
            {
                return id;
            }
        }
    })
    .await
    .expect("a change in time");
    assert_eq!(received, ticket);
}

async fn the_outbox_is_read_settled_republished_and_purged(s: Subject) {
    let service = service(&s, TestClock::new());
    let events = QueueEvents::new(service.clone());
    for _ in 0..3 {
        let (ticket, _) = held(&events).await;
        service.join(new_id(), ticket).await.expect("join");
    }
    let outbox = s.store.outbox();
    let pending = outbox.unsent_after(0, 100).await.expect("unsent");
    assert_eq!(pending.len(), 3);
    assert!(pending.windows(2).all(|w| w[0].seq < w[1].seq), "in order");
    let later = outbox
        .unsent_after(pending[0].seq, 100)
        .await
        .expect("unsent");
    assert_eq!(later.len(), 2, "after a position");

    let ids: Vec<Id> = pending.iter().map(|p| p.event.id).collect();
    let before = OffsetDateTime::now_utc() - time::Duration::seconds(1);
    outbox.mark_sent(&ids).await.expect("mark");
    assert!(
        outbox
            .unsent_after(0, 100)
            .await
            .expect("unsent")
            .is_empty()
    );

    assert_eq!(outbox.republish_since(before).await.expect("republish"), 3);
    let again = outbox.unsent_after(0, 100).await.expect("unsent");
    assert_eq!(again.iter().map(|p| p.event.id).collect::<Vec<_>>(), ids);

    outbox.mark_sent(&ids).await.expect("mark");
    assert_eq!(
        outbox
            .purge_sent(Duration::from_secs(3600))
            .await
            .expect("purge"),
        0
    );
    assert_eq!(outbox.purge_sent(Duration::ZERO).await.expect("purge"), 3);
    assert_eq!(outbox.republish_since(before).await.expect("republish"), 0);
}

async fn parked_events_are_kept_with_their_reason(s: Subject) {
    let event = listed(new_id(), new_id());
    s.store
        .park("queue", &event, "unreadable")
        .await
        .expect("park");
    s.store
        .park("queue", &event, "again")
        .await
        .expect("park twice");
    let letters = s.store.dead_letters("queue").await.expect("letters");
    assert_eq!(letters.len(), 1);
    assert_eq!(
        (letters[0].0.id, letters[0].1.as_str()),
        (event.id, "unreadable")
    );
    assert!(
        s.store
            .dead_letters("other")
            .await
            .expect("letters")
            .is_empty()
    );
}
