//! The events catalogue: one event per name, venue and start whatever the race, edits as
//! versions, the listing of events to come, and ticket counts that follow every ticket.

use std::collections::HashSet;
use std::sync::Arc;

use boxoffice_common::{Id, UserId, new_id};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::store::{Decision, Modified};
use boxoffice_tickets::domain::event::{
    CatalogueEvent, CatalogueEventDraft, CatalogueEventError, EventListing,
};
use boxoffice_tickets::store::{Catalogued, EventChange, EventQuery};
use time::OffsetDateTime;
use tokio::task::JoinSet;

use super::helpers::{
    Subject, basket_completed, catalogue_event, consumer, insert, insert_event, order_cancelled,
    order_created, postgres, seller, sqlite, ticket, ticket_for, unsent_kinds, withdraw,
};
use boxoffice_platform::consumer::EventHandler;

boxoffice_platform::on_both_databases!(
    twenty_concurrent_creates_of_one_event_make_one,
    an_edit_is_a_version_and_an_edit_onto_another_events_key_is_refused,
    the_catalogue_shows_events_to_come_soonest_first_filtered_and_paged,
    counts_follow_tickets_listed_held_freed_sold_and_withdrawn,
);

/// Every event to come, in one page.
fn everything() -> EventQuery {
    EventQuery {
        after: OffsetDateTime::now_utc(),
        text: None,
        from: None,
        to: None,
        limit: 100,
        offset: 0,
    }
}

fn listing(outcome: &Catalogued) -> &EventListing {
    match outcome {
        Catalogued::Created(listing) | Catalogued::Existing(listing) => listing,
    }
}

fn names(page: &[EventListing]) -> Vec<&str> {
    page.iter().map(|l| l.event.name.as_str()).collect()
}

async fn twenty_concurrent_creates_of_one_event_make_one(s: Subject) {
    // One event, spelled and offset differently by each creator.
    let names = ["Rock Night", "  rock night ", "ROCK NIGHT"];
    let venues = ["Arena", " ARENA"];
    let starts = [
        "2099-06-01T20:00:00Z",
        "2099-06-01T22:00:00+02:00",
        "2099-06-01T15:00:00.000000-05:00",
    ];
    let mut creates = JoinSet::new();
    for n in 0..20 {
        let store = Arc::clone(&s.store);
        let event = catalogue_event(seller(), names[n % 3], venues[n % 2], starts[n % 3]);
        creates.spawn(async move { insert_event(&store, &event).await });
    }
    let outcomes = creates.join_all().await;
    let created = outcomes
        .iter()
        .filter(|o| matches!(o, Catalogued::Created(_)))
        .count();
    assert_eq!(created, 1, "{outcomes:?}");
    let ids: HashSet<Id> = outcomes.iter().map(|o| listing(o).event.id).collect();
    assert_eq!(ids.len(), 1, "every create answers the one event");
    let (page, total) = s.store.list_events(&everything()).await.expect("list");
    assert_eq!((page.len(), total), (1, 1));
    assert!(ids.contains(&page[0].event.id));
    assert_eq!(unsent_kinds(&s.store).await, ["event:created"]);
}

/// An edit by `user` to `name` at `venue`, starting `starts_at`.
fn edit(user: UserId, name: &str, venue: &str, starts_at: &str) -> EventChange {
    let now = OffsetDateTime::now_utc();
    let draft = CatalogueEventDraft::parse(Some(name), Some(venue), Some(starts_at), None, now)
        .expect("draft");
    Box::new(move |event: &mut CatalogueEvent| {
        let updated = event.edit(user, draft)?;
        Ok(Decision::Save(vec![Envelope::new(
            "tickets", now, &updated,
        )]))
    })
}

async fn an_edit_is_a_version_and_an_edit_onto_another_events_key_is_refused(s: Subject) {
    let creator = seller();
    let opera = catalogue_event(creator, "Opera", "Hall", "2099-01-01T19:00:00Z");
    let ballet = catalogue_event(creator, "Ballet", "Hall", "2099-01-02T19:00:00Z");
    for event in [&opera, &ballet] {
        assert!(matches!(
            insert_event(&s.store, event).await,
            Catalogued::Created(_)
        ));
    }
    let saved = s
        .store
        .modify_event(
            ballet.id,
            edit(creator, "Ballet Gala", "Hall", "2099-01-02T19:00:00Z"),
        )
        .await
        .expect("modify");
    let Modified::Saved(saved) = saved else {
        panic!("expected a save, got {saved:?}")
    };
    assert_eq!(
        (saved.event.name.as_str(), saved.event.version),
        ("Ballet Gala", 1)
    );

    let collision = s
        .store
        .modify_event(
            ballet.id,
            edit(creator, " OPERA ", "hall", "2099-01-01T20:00:00+01:00"),
        )
        .await
        .expect("modify");
    assert_eq!(collision, Modified::Refused(CatalogueEventError::exists()));
    let now = s.store.event(ballet.id).await.expect("get").expect("event");
    assert_eq!(now, saved, "the refused edit wrote nothing");

    let stranger = s
        .store
        .modify_event(
            ballet.id,
            edit(seller(), "Mine", "Hall", "2099-01-05T19:00:00Z"),
        )
        .await
        .expect("modify");
    assert_eq!(stranger, Modified::Refused(CatalogueEventError::NotCreator));
    let missing = s
        .store
        .modify_event(new_id(), edit(creator, "X", "Y", "2099-01-05T19:00:00Z"))
        .await
        .expect("modify");
    assert_eq!(missing, Modified::Missing);
    assert_eq!(
        unsent_kinds(&s.store).await,
        ["event:created", "event:created", "event:updated"]
    );
}

async fn the_catalogue_shows_events_to_come_soonest_first_filtered_and_paged(s: Subject) {
    let creator = seller();
    let mut started = catalogue_event(creator, "Jazz Matinee", "Club", "2099-01-01T12:00:00Z");
    started.starts_at =
        OffsetDateTime::from_unix_timestamp(OffsetDateTime::now_utc().unix_timestamp() - 3600)
            .expect("time");
    for event in [
        started.clone(),
        catalogue_event(creator, "Jazz Night", "Blue Room", "2099-03-01T20:00:00Z"),
        catalogue_event(creator, "Opera", "Jazz Hall", "2099-02-01T20:00:00Z"),
        catalogue_event(creator, "Rock 100%", "Arena", "2099-04-01T20:00:00Z"),
        catalogue_event(creator, "Folk", "Barn", "2099-02-01T20:00:00Z"),
    ] {
        insert_event(&s.store, &event).await;
    }
    let list = |f: fn(&mut EventQuery)| {
        let mut query = everything();
        f(&mut query);
        let store = Arc::clone(&s.store);
        async move { store.list_events(&query).await.expect("list") }
    };
    let (page, total) = list(|_| {}).await;
    // Same start: the older id first.
    assert_eq!(
        (names(&page), total),
        (vec!["Opera", "Folk", "Jazz Night", "Rock 100%"], 4)
    );
    let (page, total) = list(|q| q.text = Some("JAZZ".into())).await;
    assert_eq!((names(&page), total), (vec!["Opera", "Jazz Night"], 2));
    let (page, _) = list(|q| q.text = Some("%".into())).await;
    assert_eq!(names(&page), ["Rock 100%"], "% matches literally");
    let (page, _) = list(|q| {
        q.from = Some(time::macros::datetime!(2099-02-01 20:00 UTC));
        q.to = Some(time::macros::datetime!(2099-03-01 20:00 UTC));
    })
    .await;
    assert_eq!(names(&page), ["Opera", "Folk", "Jazz Night"], "inclusive");
    let (page, total) = list(|q| {
        q.limit = 2;
        q.offset = 2;
    })
    .await;
    assert_eq!((names(&page), total), (vec!["Jazz Night", "Rock 100%"], 4));
    let shown = s
        .store
        .event(started.id)
        .await
        .expect("get")
        .expect("event");
    assert_eq!(
        shown.event.name, "Jazz Matinee",
        "a started event is still shown"
    );
}

/// `(ticketsAvailable, minPrice in minor units)` of `event`.
async fn counts(s: &Subject, event: Id) -> (u64, Option<i64>) {
    let listing = s.store.event(event).await.expect("get").expect("event");
    (
        listing.tickets_available,
        listing.min_price.map(|p| p.minor()),
    )
}

async fn counts_follow_tickets_listed_held_freed_sold_and_withdrawn(s: Subject) {
    let creator = seller();
    let concert = catalogue_event(creator, "Concert", "Arena", "2099-05-01T20:00:00Z");
    let other = catalogue_event(creator, "Other", "Arena", "2099-05-02T20:00:00Z");
    let created = insert_event(&s.store, &concert).await;
    assert_eq!(
        (
            listing(&created).tickets_available,
            listing(&created).min_price
        ),
        (0, None)
    );
    insert_event(&s.store, &other).await;
    let vendor = seller();
    let (t30, t20, t50) = (
        ticket_for(vendor, concert.id, Some("A1"), 30.0),
        ticket_for(vendor, concert.id, None, 20.0),
        ticket_for(vendor, concert.id, Some("A2"), 50.0),
    );
    for t in [&t30, &t20, &t50, &ticket_for(vendor, other.id, None, 5.0)] {
        insert(&s.store, t).await;
    }
    insert(&s.store, &ticket(vendor, "No event", 1.0, 0)).await;
    assert_eq!(counts(&s, concert.id).await, (3, Some(2000)));

    let handler = consumer(&s);
    let (first, second, third) = (new_id(), new_id(), new_id());
    handler
        .handle(&order_created(first, t20.id))
        .await
        .expect("hold");
    assert_eq!(counts(&s, concert.id).await, (2, Some(3000)), "held");
    handler
        .handle(&order_cancelled(first, t20.id))
        .await
        .expect("free");
    assert_eq!(counts(&s, concert.id).await, (3, Some(2000)), "freed");
    handler
        .handle(&order_created(second, t20.id))
        .await
        .expect("hold");
    handler
        .handle(&basket_completed(second, &[t20.id]))
        .await
        .expect("sell");
    assert_eq!(counts(&s, concert.id).await, (2, Some(3000)), "sold");
    withdraw(&s.store, t30.id).await;
    assert_eq!(counts(&s, concert.id).await, (1, Some(5000)), "withdrawn");
    handler
        .handle(&order_created(third, t50.id))
        .await
        .expect("hold");
    assert_eq!(counts(&s, concert.id).await, (0, None), "nothing left");

    let (page, _) = s.store.list_events(&everything()).await.expect("list");
    let shown: Vec<(&str, u64, Option<i64>)> = page
        .iter()
        .map(|l| {
            let price = l.min_price.map(|p| p.minor());
            (l.event.name.as_str(), l.tickets_available, price)
        })
        .collect();
    assert_eq!(shown, [("Concert", 0, None), ("Other", 1, Some(500))]);
}
