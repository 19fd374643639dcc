//! What every behaviour file shares: a fresh store per database and small builders.

use std::sync::Arc;
use std::time::Duration;

use boxoffice_common::events::{ExpirationComplete, TicketCreated, TicketUpdated};
use boxoffice_common::{Money, UserId, new_id};
use boxoffice_orders::domain::{Order, OrderStatus, OrderedTicket, TicketReplica};
use boxoffice_orders::store::{
    Change, OrderModified, OrderStore, PostgresOrderStore, SqliteOrderStore,
};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::fresh::FreshIds;
use boxoffice_platform::store::{Decision, Modified};
use boxoffice_platform::testing::{postgres_db, sqlite_db};
use time::OffsetDateTime;
use tokio::sync::Notify;
use uuid::Uuid;

/// How far a payment in flight extends a hold, in these tests.
pub const CEILING: Duration = Duration::from_secs(600);

pub type Subject = boxoffice_platform::testing::Subject<dyn OrderStore>;

pub async fn sqlite() -> Subject {
    let (db, dir) = sqlite_db("orders").await.expect("sqlite");
    let store = SqliteOrderStore::open(db, Arc::new(Notify::new()))
        .await
        .expect("migrate");
    Subject::new(Arc::new(store), dir)
}

pub async fn postgres() -> Subject {
    let (pool, database) = postgres_db("boxoffice_orders").await.expect("postgres");
    let store = PostgresOrderStore::open(pool, Arc::new(Notify::new()))
        .await
        .expect("migrate");
    Subject::new(Arc::new(store), database)
}

/// Fresh-id waiters for tests that do not look at them: a zero bound never waits.
pub fn no_waits() -> FreshIds {
    FreshIds::new("orders", Duration::ZERO)
}

/// Events waiting in the store's outbox.
pub async fn unsent(s: &Subject) -> usize {
    s.store
        .plumbing()
        .outbox()
        .unsent_after(0, 100)
        .await
        .expect("outbox")
        .len()
}

pub fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_790_000_000 + seconds).expect("time")
}

pub fn order(buyer: Uuid, ticket: Uuid, created: i64) -> Order {
    Order {
        id: new_id(),
        user_id: buyer,
        ticket: OrderedTicket {
            id: ticket,
            title: "Concert".into(),
            price: Money::from_minor(2000),
            version: 0,
        },
        more_tickets: vec![],
        status: OrderStatus::Created,
        expires_at: at(created + 900),
        hold_until: at(created + 900),
        version: 0,
        created_at: at(created),
        cancel_reason: None,
    }
}

/// Some event, for the outbox or the dead letters.
pub fn event() -> Envelope {
    Envelope::new(
        "orders",
        OffsetDateTime::now_utc(),
        &ExpirationComplete { order_id: new_id() },
    )
}

/// The buyer cancels, publishing [`event`].
pub fn cancel_change() -> Change {
    Box::new(|o: &mut Order| {
        o.cancel_by(UserId(o.user_id))?;
        Ok(Decision::Save(vec![event()]))
    })
}

/// Marks the order paid, publishing nothing.
pub fn complete_change() -> Change {
    Box::new(|o: &mut Order| {
        o.status = OrderStatus::Complete;
        o.version += 1;
        Ok(Decision::Save(vec![]))
    })
}

/// The order a change saved; anything else fails the test.
pub fn saved(outcome: OrderModified) -> Order {
    match outcome {
        Modified::Saved(order) => order,
        other => panic!("expected a save, got {other:?}"),
    }
}

pub fn replica(id: Uuid, version: i64, title: &str) -> TicketReplica {
    TicketReplica {
        id,
        title: title.into(),
        price: Money::from_minor(1000),
        user_id: Uuid::nil(),
        version,
        deleted: false,
        event_id: None,
    }
}

/// `ticket:created` for version 0, `ticket:updated` after.
pub fn ticket_event(id: Uuid, version: i64, title: &str) -> Envelope {
    let now = OffsetDateTime::now_utc();
    if version == 0 {
        Envelope::new(
            "tickets",
            now,
            &TicketCreated {
                id,
                version,
                title: title.into(),
                price: 1000,
                user_id: Uuid::nil(),
                event_id: None,
            },
        )
    } else {
        Envelope::new(
            "tickets",
            now,
            &TicketUpdated {
                id,
                version,
                title: title.into(),
                price: 1000,
                user_id: Uuid::nil(),
                order_id: None,
                event_id: None,
            },
        )
    }
}
