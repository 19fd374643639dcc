//! The subjects every case runs on, and the tickets and events the cases build.

use std::sync::Arc;

use boxoffice_common::events::{OrderCancelled, OrderCreated, OrderTicket, TicketCreated};
use boxoffice_common::order::{CancelReason, OrderStatus};
use boxoffice_common::{Id, OrderId, SystemClock, TicketId, UserId, new_id};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::testing::{postgres_db, sqlite_db};
use boxoffice_tickets::domain::{Ticket, TicketDraft};
use boxoffice_tickets::events::OrderEvents;
use boxoffice_tickets::store::{PostgresTicketStore, SqliteTicketStore, TicketStore};
use time::OffsetDateTime;
use tokio::sync::Notify;

pub type Subject = boxoffice_platform::testing::Subject<dyn TicketStore>;

pub async fn sqlite() -> Subject {
    let (db, dir) = sqlite_db("tickets").await.expect("sqlite");
    let store = SqliteTicketStore::open(db, Arc::new(Notify::new()))
        .await
        .expect("migrate");
    Subject::new(Arc::new(store), dir)
}

pub async fn postgres() -> Subject {
    let (pool, database) = postgres_db("boxoffice_tickets").await.expect("postgres");
    let store = PostgresTicketStore::open(pool, Arc::new(Notify::new()))
        .await
        .expect("migrate");
    Subject::new(Arc::new(store), database)
}

/// Timestamps at whole microseconds: both databases keep at least that.
pub fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_790_000_000 + seconds).expect("time")
}

pub fn ticket(seller: UserId, title: &str, price: f64, created: i64) -> Ticket {
    let draft = TicketDraft::parse(Some(title), Some(price), None).expect("draft");
    Ticket::list(TicketId(new_id()), seller, draft, at(created)).0
}

pub fn seller() -> UserId {
    UserId(new_id())
}

pub fn created_event(t: &Ticket) -> Envelope {
    Envelope::new(
        "tickets",
        OffsetDateTime::now_utc(),
        &TicketCreated {
            id: t.id,
            version: t.version,
            title: t.title.clone(),
            price: t.price.minor(),
            user_id: t.user_id,
        },
    )
}

pub async fn insert(store: &Arc<dyn TicketStore>, t: &Ticket) {
    store.insert(t, &created_event(t)).await.expect("insert");
}

pub async fn unsent_kinds(store: &Arc<dyn TicketStore>) -> Vec<String> {
    let outbox = store.plumbing().outbox();
    let rows = outbox.unsent_after(0, 1000).await.expect("outbox");
    rows.into_iter().map(|p| p.event.kind).collect()
}

pub fn order_created(order: Id, ticket: Id) -> Envelope {
    Envelope::new(
        "orders",
        OffsetDateTime::now_utc(),
        &OrderCreated {
            id: order,
            version: 0,
            status: OrderStatus::Created,
            user_id: new_id(),
            expires_at: OffsetDateTime::now_utc(),
            ticket: OrderTicket {
                id: ticket,
                price: Some(2000),
            },
        },
    )
}

pub fn order_cancelled(order: Id, ticket: Id) -> Envelope {
    Envelope::new(
        "orders",
        OffsetDateTime::now_utc(),
        &OrderCancelled {
            id: order,
            version: 1,
            reason: CancelReason::Expired,
            ticket: OrderTicket {
                id: ticket,
                price: None,
            },
        },
    )
}

pub fn consumer(s: &Subject) -> OrderEvents {
    OrderEvents::new(Arc::clone(&s.store), Arc::new(SystemClock))
}

pub fn order() -> OrderId {
    OrderId(new_id())
}
