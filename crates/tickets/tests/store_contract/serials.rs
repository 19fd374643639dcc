//! Serial numbers: unique among an event's live tickets, decided by the partial unique
//! index — under a race, while held or sold, freed by a withdrawal — and the listing of
//! one event's tickets.

use std::sync::Arc;

use boxoffice_common::new_id;
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::consumer::EventHandler;
use boxoffice_platform::store::{Decision, Modified};
use boxoffice_tickets::domain::{Ticket, TicketDraft, TicketError};
use boxoffice_tickets::store::{ListQuery, Listed, StatusFilter};
use time::OffsetDateTime;
use tokio::task::JoinSet;

use super::helpers::{
    Subject, basket_completed, catalogue_event, consumer, insert, insert_event, order_created,
    postgres, seller, sqlite, ticket, ticket_for, try_insert, unsent_kinds, withdraw,
};

boxoffice_platform::on_both_databases!(
    of_concurrent_listings_with_one_serial_exactly_one_wins,
    a_held_or_sold_ticket_keeps_its_serial_and_a_withdrawn_one_frees_it,
    an_edit_onto_a_taken_serial_is_refused_and_writes_nothing,
    one_events_tickets_are_listed_with_the_other_filters,
);

async fn of_concurrent_listings_with_one_serial_exactly_one_wins(s: Subject) {
    let (concert, other) = (
        catalogue_event(seller(), "Concert", "Arena", "2099-05-01T20:00:00Z"),
        catalogue_event(seller(), "Other", "Arena", "2099-05-02T20:00:00Z"),
    );
    insert_event(&s.store, &concert).await;
    insert_event(&s.store, &other).await;
    let mut listings = JoinSet::new();
    for _ in 0..10 {
        let store = Arc::clone(&s.store);
        let t = ticket_for(seller(), concert.id, Some("A-1"), 20.0);
        listings.spawn(async move { try_insert(&store, &t).await });
    }
    let outcomes = listings.join_all().await;
    let saved = outcomes.iter().filter(|o| **o == Listed::Saved).count();
    assert_eq!(saved, 1, "{outcomes:?}");
    // The same serial at another event, and tickets without a serial, are no clash.
    let elsewhere = ticket_for(seller(), other.id, Some("A-1"), 20.0);
    assert_eq!(try_insert(&s.store, &elsewhere).await, Listed::Saved);
    for _ in 0..2 {
        let plain = ticket_for(seller(), concert.id, None, 20.0);
        assert_eq!(try_insert(&s.store, &plain).await, Listed::Saved);
    }
    let of_concert = ListQuery {
        limit: 50,
        event: Some(concert.id),
        ..ListQuery::default()
    };
    assert_eq!(s.store.list(&of_concert).await.expect("list").1, 3);
    let created = unsent_kinds(&s.store).await;
    assert_eq!(
        created.iter().filter(|k| *k == "ticket:created").count(),
        4,
        "only saved tickets are announced: {created:?}"
    );
}

async fn a_held_or_sold_ticket_keeps_its_serial_and_a_withdrawn_one_frees_it(s: Subject) {
    let concert = catalogue_event(seller(), "Concert", "Arena", "2099-05-01T20:00:00Z");
    insert_event(&s.store, &concert).await;
    let vendor = seller();
    let held = ticket_for(vendor, concert.id, Some("S1"), 20.0);
    insert(&s.store, &held).await;
    let handler = consumer(&s);
    let order = new_id();
    handler
        .handle(&order_created(order, held.id))
        .await
        .expect("hold");
    let again = || ticket_for(vendor, concert.id, Some("S1"), 25.0);
    assert_eq!(try_insert(&s.store, &again()).await, Listed::SerialTaken);
    handler
        .handle(&basket_completed(order, &[held.id]))
        .await
        .expect("sell");
    assert_eq!(try_insert(&s.store, &again()).await, Listed::SerialTaken);

    let withdrawn = ticket_for(vendor, concert.id, Some("S2"), 20.0);
    insert(&s.store, &withdrawn).await;
    withdraw(&s.store, withdrawn.id).await;
    let relisted = ticket_for(vendor, concert.id, Some("S2"), 30.0);
    assert_eq!(try_insert(&s.store, &relisted).await, Listed::Saved);
}

async fn an_edit_onto_a_taken_serial_is_refused_and_writes_nothing(s: Subject) {
    let concert = catalogue_event(seller(), "Concert", "Arena", "2099-05-01T20:00:00Z");
    insert_event(&s.store, &concert).await;
    let vendor = seller();
    let (first, second) = (
        ticket_for(vendor, concert.id, Some("S1"), 20.0),
        ticket_for(vendor, concert.id, Some("S2"), 20.0),
    );
    insert(&s.store, &first).await;
    insert(&s.store, &second).await;
    let retag = |serial: &'static str| {
        Box::new(move |t: &mut Ticket| {
            let mut draft = TicketDraft::parse(Some("Seat"), Some(20.0), None)?;
            draft.event_id = t.event_id;
            draft.serial_number = Some(serial.to_owned());
            let updated = t.edit(vendor, draft)?;
            Ok(Decision::Save(vec![Envelope::new(
                "tickets",
                OffsetDateTime::now_utc(),
                &updated,
            )]))
        })
    };
    let outcome = s
        .store
        .modify(second.id, None, retag("S1"))
        .await
        .expect("modify");
    assert_eq!(outcome, Modified::Refused(TicketError::serial_taken()));
    assert_eq!(
        s.store.get(second.id).await.expect("get"),
        Some(second.clone())
    );
    assert_eq!(
        unsent_kinds(&s.store).await,
        ["event:created", "ticket:created", "ticket:created"]
    );
    let outcome = s
        .store
        .modify(second.id, None, retag("S3"))
        .await
        .expect("modify");
    assert!(
        matches!(outcome, Modified::Saved(ref t) if t.serial_number.as_deref() == Some("S3")),
        "{outcome:?}"
    );
}

async fn one_events_tickets_are_listed_with_the_other_filters(s: Subject) {
    let concert = catalogue_event(seller(), "Concert", "Arena", "2099-05-01T20:00:00Z");
    insert_event(&s.store, &concert).await;
    let vendor = seller();
    let mut front = ticket_for(vendor, concert.id, Some("F1"), 80.0);
    front.title = "Front row".into();
    let back = ticket_for(vendor, concert.id, None, 20.0);
    for t in [
        &front,
        &back,
        &ticket(vendor, "Front row elsewhere", 80.0, 0),
    ] {
        insert(&s.store, t).await;
    }
    let query = |text: Option<&str>| ListQuery {
        limit: 50,
        status: StatusFilter::All,
        event: Some(concert.id),
        text: text.map(str::to_owned),
        ..ListQuery::default()
    };
    let (page, total) = s.store.list(&query(None)).await.expect("list");
    assert_eq!(
        (page.iter().map(|t| t.id).collect::<Vec<_>>(), total),
        (vec![front.id, back.id], 2)
    );
    assert_eq!(page[0], front, "event and serial read back");
    let (page, total) = s.store.list(&query(Some("front"))).await.expect("list");
    assert_eq!((page.len(), total), (1, 1));
    let (_, total) = s
        .store
        .list(&ListQuery {
            event: Some(new_id()),
            ..query(None)
        })
        .await
        .expect("list");
    assert_eq!(total, 0);
}
