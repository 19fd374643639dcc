//! Every `TicketStore` method, and the order-event consumer, on SQLite and PostgreSQL.

use std::sync::Arc;

use boxoffice_common::events::{
    OrderCancelled, OrderCompleted, OrderCreated, OrderTicket, TicketCreated,
};
use boxoffice_common::{Money, SystemClock, new_id};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::consumer::{EventHandler, Handled};
use boxoffice_platform::testing::{postgres_db, sqlite_db};
use boxoffice_tickets::domain::{Ticket, TicketDraft, TicketError, TicketStatus};
use boxoffice_tickets::events::OrderEvents;
use boxoffice_tickets::store::{
    Claim, Decision, ListQuery, Modified, PostgresTicketStore, Sort, SqliteTicketStore,
    StatusFilter, TicketStore,
};
use time::OffsetDateTime;
use tokio::sync::Notify;
use uuid::Uuid;

type Subject = boxoffice_platform::testing::Subject<dyn TicketStore>;

async fn sqlite() -> Subject {
    let (db, dir) = sqlite_db("tickets").await.expect("sqlite");
    let store = SqliteTicketStore::open(db, Arc::new(Notify::new()))
        .await
        .expect("migrate");
    Subject::new(Arc::new(store), dir)
}

async fn postgres() -> Subject {
    let (pool, database) = postgres_db("boxoffice_tickets").await.expect("postgres");
    let store = PostgresTicketStore::open(pool, Arc::new(Notify::new()))
        .await
        .expect("migrate");
    Subject::new(Arc::new(store), database)
}

boxoffice_platform::on_both_databases!(
    a_cancellation_that_overtakes_its_order_keeps_the_ticket_free,
    an_inserted_ticket_is_read_back_with_its_event_in_the_outbox,
    listing_filters_sorts_and_counts,
    a_saved_change_bumps_the_row_and_queues_its_events,
    a_refused_change_writes_nothing,
    a_claimed_event_is_applied_once,
    a_deleted_ticket_is_gone,
    published_rows_leave_the_unsent_set,
    dead_letters_are_kept_with_their_reason,
    a_duplicate_order_event_changes_nothing,
    a_late_cancellation_of_an_older_order_never_frees_a_newer_hold,
    a_sold_ticket_stays_sold,
);

/// Timestamps at whole microseconds: both databases keep at least that.
fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_790_000_000 + seconds).expect("time")
}

fn ticket(seller: Uuid, title: &str, price: f64, created: i64) -> Ticket {
    let draft = TicketDraft::parse(Some(title), Some(price), None).expect("draft");
    Ticket::list(new_id(), seller, draft, at(created))
}

fn created_event(t: &Ticket) -> Envelope {
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

async fn insert(store: &Arc<dyn TicketStore>, t: &Ticket) {
    store.insert(t, &created_event(t)).await.expect("insert");
}

async fn unsent_kinds(store: &Arc<dyn TicketStore>) -> Vec<String> {
    let rows = store.outbox().unsent_after(0, 1000).await.expect("outbox");
    rows.into_iter().map(|p| p.event.kind).collect()
}

async fn an_inserted_ticket_is_read_back_with_its_event_in_the_outbox(s: Subject) {
    let t = ticket(new_id(), "Concert", 12.5, 0);
    let event = created_event(&t);
    s.store.insert(&t, &event).await.expect("insert");
    assert_eq!(s.store.get(t.id).await.expect("get"), Some(t));
    let pending = s.store.outbox().unsent_after(0, 10).await.expect("outbox");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].event, event);
    assert_eq!(s.store.get(new_id()).await.expect("get"), None);
    s.store.ping().await.expect("ping");
}

async fn listing_filters_sorts_and_counts(s: Subject) {
    let (ann, bob) = (new_id(), new_id());
    let tickets = [
        ticket(ann, "Opera night", 50.0, 0),
        ticket(ann, "Jazz club", 20.0, 1),
        ticket(bob, "Opera matinee", 35.0, 2),
        ticket(bob, "Sold out show", 80.0, 3),
    ];
    for t in &tickets {
        insert(&s.store, t).await;
    }
    let sold = tickets[3].id;
    let order = new_id();
    s.store
        .modify(
            sold,
            None,
            Box::new(move |t: &mut Ticket| {
                Ok(if t.sell(order) {
                    Decision::Save(vec![])
                } else {
                    Decision::Keep
                })
            }),
        )
        .await
        .expect("modify")
        .expect("allowed");

    let titles = |page: &[Ticket]| page.iter().map(|t| t.title.clone()).collect::<Vec<_>>();
    let query = |f: fn(&mut ListQuery)| {
        let mut q = ListQuery {
            limit: 50,
            ..ListQuery::default()
        };
        f(&mut q);
        q
    };
    let (page, total) = s.store.list(&query(|_| {})).await.expect("list");
    assert_eq!(
        (titles(&page), total),
        (
            vec![
                "Opera night".to_owned(),
                "Jazz club".into(),
                "Opera matinee".into()
            ],
            3
        )
    );
    let (page, _) = s
        .store
        .list(&query(|q| q.text = Some("OPERA".into())))
        .await
        .expect("list");
    assert_eq!(titles(&page), ["Opera night", "Opera matinee"]);
    let (page, _) = s
        .store
        .list(&query(|q| {
            q.min_price = Some(Money::from_minor(2500));
            q.max_price = Some(Money::from_minor(5000));
        }))
        .await
        .expect("list");
    assert_eq!(titles(&page), ["Opera night", "Opera matinee"]);
    let (page, total) = s
        .store
        .list(&query(|q| {
            q.status = StatusFilter::Only(TicketStatus::Sold)
        }))
        .await
        .expect("list");
    assert_eq!(
        (titles(&page), total),
        (vec!["Sold out show".to_owned()], 1)
    );
    let (_, total) = s
        .store
        .list(&query(|q| q.status = StatusFilter::All))
        .await
        .expect("list");
    assert_eq!(total, 4);
    let (page, _) = s
        .store
        .list(&query(|q| q.sort = Sort::PriceDescending))
        .await
        .expect("list");
    assert_eq!(titles(&page), ["Opera night", "Opera matinee", "Jazz club"]);
    let (page, _) = s
        .store
        .list(&query(|q| q.sort = Sort::Newest))
        .await
        .expect("list");
    assert_eq!(titles(&page)[0], "Opera matinee");
    let (page, total) = s
        .store
        .list(&query(|q| {
            q.limit = 2;
            q.offset = 2;
        }))
        .await
        .expect("list");
    assert_eq!(
        (titles(&page), total),
        (vec!["Opera matinee".to_owned()], 3)
    );
    let mut by_bob = ListQuery {
        limit: 50,
        status: StatusFilter::All,
        ..ListQuery::default()
    };
    by_bob.seller = Some(bob);
    let (page, _) = s.store.list(&by_bob).await.expect("list");
    assert_eq!(titles(&page), ["Opera matinee", "Sold out show"]);
}

async fn a_saved_change_bumps_the_row_and_queues_its_events(s: Subject) {
    let t = ticket(new_id(), "Concert", 20.0, 0);
    insert(&s.store, &t).await;
    let seller = t.user_id;
    let outcome = s
        .store
        .modify(
            t.id,
            None,
            Box::new(move |t: &mut Ticket| {
                t.edit(
                    seller,
                    TicketDraft::parse(Some("Renamed"), Some(30.0), Some("Row 1")).expect("draft"),
                )?;
                Ok(Decision::Save(vec![Envelope::new(
                    "tickets",
                    OffsetDateTime::now_utc(),
                    &t.updated_event(),
                )]))
            }),
        )
        .await
        .expect("modify")
        .expect("allowed");
    let Modified::Saved(saved) = outcome else {
        panic!("expected a save, got {outcome:?}")
    };
    assert_eq!(
        (
            saved.title.as_str(),
            saved.version,
            saved.description.as_str()
        ),
        ("Renamed", 1, "Row 1")
    );
    assert_eq!(s.store.get(t.id).await.expect("get"), Some(saved));
    assert_eq!(
        unsent_kinds(&s.store).await,
        ["ticket:created", "ticket:updated"]
    );
}

async fn a_refused_change_writes_nothing(s: Subject) {
    let t = ticket(new_id(), "Concert", 20.0, 0);
    insert(&s.store, &t).await;
    let claim = Claim {
        consumer: "test",
        event_id: new_id(),
    };
    let outcome = s
        .store
        .modify(
            t.id,
            Some(claim),
            Box::new(|t: &mut Ticket| {
                t.title = "changed in memory".into();
                Err(TicketError::NotOwner)
            }),
        )
        .await
        .expect("modify");
    assert_eq!(outcome, Err(TicketError::NotOwner));
    assert_eq!(s.store.get(t.id).await.expect("get"), Some(t));
    assert_eq!(unsent_kinds(&s.store).await, ["ticket:created"]);
    assert!(
        s.store.claim_only(claim).await.expect("claim"),
        "the inbox entry was rolled back too"
    );
}

async fn a_claimed_event_is_applied_once(s: Subject) {
    let t = ticket(new_id(), "Concert", 20.0, 0);
    insert(&s.store, &t).await;
    let claim = Claim {
        consumer: "test",
        event_id: new_id(),
    };
    let order = new_id();
    let reserve = move || -> boxoffice_tickets::store::Change {
        Box::new(move |t: &mut Ticket| {
            Ok(if t.reserve(order) {
                Decision::Save(vec![])
            } else {
                Decision::Keep
            })
        })
    };
    let first = s
        .store
        .modify(t.id, Some(claim), reserve())
        .await
        .expect("modify")
        .expect("ok");
    assert!(matches!(first, Modified::Saved(ref t) if t.version == 1));
    let second = s
        .store
        .modify(t.id, Some(claim), reserve())
        .await
        .expect("modify")
        .expect("ok");
    assert_eq!(second, Modified::Duplicate);
    let other_consumer = Claim {
        consumer: "other",
        ..claim
    };
    let third = s
        .store
        .modify(t.id, Some(other_consumer), reserve())
        .await
        .expect("modify")
        .expect("ok");
    assert!(matches!(third, Modified::Unchanged(_)), "{third:?}");
    let missing = s
        .store
        .modify(
            new_id(),
            Some(Claim {
                consumer: "test",
                event_id: new_id(),
            }),
            reserve(),
        )
        .await;
    assert_eq!(missing.expect("modify"), Ok(Modified::Missing));
    assert!(!s.store.claim_only(claim).await.expect("claim"));
}

async fn a_deleted_ticket_is_gone(s: Subject) {
    let t = ticket(new_id(), "Concert", 20.0, 0);
    insert(&s.store, &t).await;
    s.store
        .modify(
            t.id,
            None,
            Box::new(|_t: &mut Ticket| Ok(Decision::Delete(vec![]))),
        )
        .await
        .expect("modify")
        .expect("ok");
    assert_eq!(s.store.get(t.id).await.expect("get"), None);
    let all = ListQuery {
        limit: 50,
        status: StatusFilter::All,
        ..ListQuery::default()
    };
    assert_eq!(s.store.list(&all).await.expect("list").1, 0);
    let again = s
        .store
        .modify(t.id, None, Box::new(|_t: &mut Ticket| Ok(Decision::Keep)))
        .await;
    assert_eq!(again.expect("modify"), Ok(Modified::Missing));
}

async fn published_rows_leave_the_unsent_set(s: Subject) {
    for i in 0..3 {
        insert(&s.store, &ticket(new_id(), "Concert", 20.0, i)).await;
    }
    let outbox = s.store.outbox();
    let pending = outbox.unsent_after(0, 10).await.expect("read");
    assert_eq!(pending.len(), 3);
    assert!(
        pending.windows(2).all(|w| w[0].seq < w[1].seq),
        "oldest first"
    );
    let after_first = outbox.unsent_after(pending[0].seq, 10).await.expect("read");
    assert_eq!(after_first.len(), 2);
    outbox
        .mark_sent(&[pending[0].event.id, pending[2].event.id])
        .await
        .expect("mark");
    let left = outbox.unsent_after(0, 10).await.expect("read");
    assert_eq!(
        left.iter().map(|p| p.event.id).collect::<Vec<_>>(),
        [pending[1].event.id]
    );
    assert_eq!(
        outbox
            .purge_sent(std::time::Duration::from_secs(3600))
            .await
            .expect("purge"),
        0,
        "recent rows are kept"
    );
    let republished = outbox
        .republish_since(OffsetDateTime::now_utc() - time::Duration::minutes(5))
        .await
        .expect("republish");
    assert_eq!(
        republished, 2,
        "rows sent in the last five minutes are queued again"
    );
    assert_eq!(outbox.unsent_after(0, 10).await.expect("read").len(), 3);
    let future = OffsetDateTime::now_utc() + time::Duration::minutes(5);
    assert_eq!(outbox.republish_since(future).await.expect("republish"), 0);
    outbox
        .mark_sent(&[pending[0].event.id, pending[2].event.id])
        .await
        .expect("mark");
    assert_eq!(
        outbox
            .purge_sent(std::time::Duration::ZERO)
            .await
            .expect("purge"),
        2
    );
}

async fn dead_letters_are_kept_with_their_reason(s: Subject) {
    let event = created_event(&ticket(new_id(), "Concert", 20.0, 0));
    s.store
        .park("tickets", &event, "it kept failing")
        .await
        .expect("park");
    s.store
        .park("tickets", &event, "again")
        .await
        .expect("parking twice is harmless");
    assert_eq!(
        s.store.dead_letters("tickets").await.expect("read"),
        vec![(event, "it kept failing".to_owned())]
    );
    assert!(
        s.store
            .dead_letters("other")
            .await
            .expect("read")
            .is_empty()
    );
}

fn order_created(order: Uuid, ticket: Uuid) -> Envelope {
    Envelope::new(
        "orders",
        OffsetDateTime::now_utc(),
        &OrderCreated {
            id: order,
            version: 0,
            status: "created".into(),
            user_id: new_id(),
            expires_at: OffsetDateTime::now_utc(),
            ticket: OrderTicket {
                id: ticket,
                price: Some(2000),
            },
        },
    )
}

fn order_cancelled(order: Uuid, ticket: Uuid) -> Envelope {
    Envelope::new(
        "orders",
        OffsetDateTime::now_utc(),
        &OrderCancelled {
            id: order,
            version: 1,
            reason: "expired".into(),
            ticket: OrderTicket {
                id: ticket,
                price: None,
            },
        },
    )
}

fn consumer(s: &Subject) -> OrderEvents {
    OrderEvents::new(Arc::clone(&s.store), Arc::new(SystemClock))
}

async fn a_duplicate_order_event_changes_nothing(s: Subject) {
    let t = ticket(new_id(), "Concert", 20.0, 0);
    insert(&s.store, &t).await;
    let handler = consumer(&s);
    let event = order_created(new_id(), t.id);
    assert_eq!(
        handler.handle(&event).await.expect("handle"),
        Handled::Applied
    );
    for _ in 0..4 {
        assert_eq!(
            handler.handle(&event).await.expect("handle"),
            Handled::Ignored
        );
    }
    let now = s.store.get(t.id).await.expect("get").expect("ticket");
    assert_eq!((now.status, now.version), (TicketStatus::Reserved, 1));
    assert_eq!(
        unsent_kinds(&s.store).await,
        ["ticket:created", "ticket:updated"]
    );
}

async fn a_late_cancellation_of_an_older_order_never_frees_a_newer_hold(s: Subject) {
    let t = ticket(new_id(), "Concert", 20.0, 0);
    insert(&s.store, &t).await;
    let handler = consumer(&s);
    let (old, new) = (new_id(), new_id());
    handler
        .handle(&order_created(old, t.id))
        .await
        .expect("old holds");
    // The old order expired and a new one took the ticket; the old cancellation arrives last.
    handler
        .handle(&order_created(new, t.id))
        .await
        .expect("new holds");
    assert_eq!(
        handler
            .handle(&order_cancelled(old, t.id))
            .await
            .expect("handle"),
        Handled::Ignored
    );
    let now = s.store.get(t.id).await.expect("get").expect("ticket");
    assert_eq!(
        (now.status, now.order_id),
        (TicketStatus::Reserved, Some(new))
    );
    assert_eq!(
        handler
            .handle(&order_cancelled(new, t.id))
            .await
            .expect("handle"),
        Handled::Applied
    );
    let now = s.store.get(t.id).await.expect("get").expect("ticket");
    assert_eq!((now.status, now.order_id), (TicketStatus::Available, None));
}

async fn a_sold_ticket_stays_sold(s: Subject) {
    let t = ticket(new_id(), "Concert", 20.0, 0);
    insert(&s.store, &t).await;
    let handler = consumer(&s);
    let order = new_id();
    handler
        .handle(&order_created(order, t.id))
        .await
        .expect("hold");
    let completed = Envelope::new(
        "orders",
        OffsetDateTime::now_utc(),
        &OrderCompleted {
            id: order,
            version: 1,
            ticket: OrderTicket {
                id: t.id,
                price: None,
            },
        },
    );
    assert_eq!(
        handler.handle(&completed).await.expect("handle"),
        Handled::Applied
    );
    assert_eq!(
        handler
            .handle(&order_cancelled(order, t.id))
            .await
            .expect("handle"),
        Handled::Ignored
    );
    assert_eq!(
        handler
            .handle(&order_created(new_id(), t.id))
            .await
            .expect("handle"),
        Handled::Ignored
    );
    let now = s.store.get(t.id).await.expect("get").expect("ticket");
    assert_eq!(
        (now.status, now.order_id),
        (TicketStatus::Sold, Some(order))
    );
}

async fn a_cancellation_that_overtakes_its_order_keeps_the_ticket_free(s: Subject) {
    let t = ticket(new_id(), "Concert", 20.0, 0);
    insert(&s.store, &t).await;
    let handler = consumer(&s);
    let order = new_id();
    assert_eq!(
        handler
            .handle(&order_cancelled(order, t.id))
            .await
            .expect("handle"),
        Handled::Ignored
    );
    assert_eq!(
        handler
            .handle(&order_created(order, t.id))
            .await
            .expect("handle"),
        Handled::Ignored
    );
    let now = s.store.get(t.id).await.expect("get").expect("ticket");
    assert_eq!(
        (now.status, now.order_id, now.version),
        (TicketStatus::Available, None, 0)
    );
    // A newer order still gets it.
    let newer = new_id();
    assert_eq!(
        handler
            .handle(&order_created(newer, t.id))
            .await
            .expect("handle"),
        Handled::Applied
    );
    assert_eq!(
        s.store
            .get(t.id)
            .await
            .expect("get")
            .expect("ticket")
            .order_id,
        Some(newer)
    );
}
