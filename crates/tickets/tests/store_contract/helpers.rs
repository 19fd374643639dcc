//! The subjects every case runs on, and the tickets, catalogue events and bus events the
//! cases build.

use std::sync::Arc;

use boxoffice_common::events::{
    OrderCancelled, OrderCompleted, OrderCreated, OrderTicket, TicketCreated,
};
use boxoffice_common::order::{CancelReason, OrderStatus};
use boxoffice_common::{Id, OrderId, SystemClock, TicketId, UserId, new_id};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::store::{Decision, Modified};
use boxoffice_platform::testing::{postgres_db, sqlite_db};
use boxoffice_tickets::domain::event::{CatalogueEvent, CatalogueEventDraft, CatalogueEventId};
use boxoffice_tickets::domain::{Ticket, TicketDraft};
use boxoffice_tickets::events::OrderEvents;
use boxoffice_tickets::store::{
    Catalogued, Listed, PostgresTicketStore, SqliteTicketStore, TicketStore,
};
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
            event_id: t.event_id,
        },
    )
}

pub async fn insert(store: &Arc<dyn TicketStore>, t: &Ticket) {
    let listed = store.insert(t, &created_event(t)).await.expect("insert");
    assert_eq!(listed, Listed::Saved);
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
            tickets: vec![],
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
            tickets: vec![],
        },
    )
}

pub fn consumer(s: &Subject) -> OrderEvents {
    OrderEvents::new(Arc::clone(&s.store), Arc::new(SystemClock))
}

pub fn order() -> OrderId {
    OrderId(new_id())
}

/// A ticket of `seller` for `event`, with `serial` if given.
pub fn ticket_for(seller: UserId, event: Id, serial: Option<&str>, price: f64) -> Ticket {
    let mut draft = TicketDraft::parse(Some("Seat"), Some(price), None).expect("draft");
    draft.event_id = Some(event);
    draft.serial_number = serial.map(str::to_owned);
    Ticket::list(TicketId(new_id()), seller, draft, at(0)).0
}

/// Adds `t`, saying whether the serial index let it in.
pub async fn try_insert(store: &Arc<dyn TicketStore>, t: &Ticket) -> Listed {
    store.insert(t, &created_event(t)).await.expect("insert")
}

/// Withdraws `id` as its seller would (saved marked deleted).
pub async fn withdraw(store: &Arc<dyn TicketStore>, id: Id) {
    let outcome = store
        .modify(
            id,
            None,
            Box::new(|t: &mut Ticket| {
                t.deleted = true;
                Ok(Decision::Save(vec![]))
            }),
        )
        .await
        .expect("modify");
    assert!(matches!(outcome, Modified::Saved(_)), "{outcome:?}");
}

/// A catalogue event of `creator` starting at `starts_at` (RFC 3339, in the future).
pub fn catalogue_event(
    creator: UserId,
    name: &str,
    venue: &str,
    starts_at: &str,
) -> CatalogueEvent {
    let now = OffsetDateTime::now_utc();
    let draft = CatalogueEventDraft::parse(Some(name), Some(venue), Some(starts_at), None, now)
        .expect("event draft");
    CatalogueEvent::create(CatalogueEventId(new_id()), creator, draft, now).0
}

/// Adds `event` with its `event:created`.
pub async fn insert_event(store: &Arc<dyn TicketStore>, event: &CatalogueEvent) -> Catalogued {
    let created = boxoffice_common::events::EventCreated(boxoffice_common::events::EventDetails {
        id: event.id,
        version: event.version,
        name: event.name.clone(),
        venue: event.venue.clone(),
        starts_at: event.starts_at,
        user_id: event.user_id,
    });
    let envelope = Envelope::new("tickets", OffsetDateTime::now_utc(), &created);
    store
        .insert_event(event, &envelope)
        .await
        .expect("insert event")
}

fn basket(tickets: &[Id], price: Option<i64>) -> Vec<OrderTicket> {
    tickets
        .iter()
        .map(|&id| OrderTicket { id, price })
        .collect()
}

/// `order:created` for a basket of `tickets` (its `ticket` is the first).
pub fn basket_created(order: Id, tickets: &[Id]) -> Envelope {
    let tickets = basket(tickets, Some(2000));
    Envelope::new(
        "orders",
        OffsetDateTime::now_utc(),
        &OrderCreated {
            id: order,
            version: 0,
            status: OrderStatus::Created,
            user_id: new_id(),
            expires_at: OffsetDateTime::now_utc(),
            ticket: tickets[0].clone(),
            tickets,
        },
    )
}

/// `order:cancelled` for a basket of `tickets`.
pub fn basket_cancelled(order: Id, tickets: &[Id]) -> Envelope {
    let tickets = basket(tickets, None);
    Envelope::new(
        "orders",
        OffsetDateTime::now_utc(),
        &OrderCancelled {
            id: order,
            version: 1,
            reason: CancelReason::User,
            ticket: tickets[0].clone(),
            tickets,
        },
    )
}

/// `order:completed` for a basket of `tickets`.
pub fn basket_completed(order: Id, tickets: &[Id]) -> Envelope {
    let tickets = basket(tickets, None);
    Envelope::new(
        "orders",
        OffsetDateTime::now_utc(),
        &OrderCompleted {
            id: order,
            version: 1,
            ticket: tickets[0].clone(),
            tickets,
        },
    )
}
