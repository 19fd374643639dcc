//! Insert and read back, and every outcome of `modify`.

use boxoffice_common::new_id;
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::store::{Claim, Decision, Modified};
use boxoffice_tickets::domain::{Ticket, TicketDraft, TicketError};
use boxoffice_tickets::store::{Change, ListQuery, Listed, StatusFilter};
use time::OffsetDateTime;

use super::helpers::{
    Subject, created_event, insert, order, postgres, seller, sqlite, ticket, unsent_kinds,
};

boxoffice_platform::on_both_databases!(
    an_inserted_ticket_is_read_back_with_its_event_in_the_outbox,
    a_saved_change_bumps_the_row_and_queues_its_events,
    a_refused_change_writes_nothing,
    a_claimed_event_is_applied_once,
    a_deleted_ticket_is_gone,
);

async fn an_inserted_ticket_is_read_back_with_its_event_in_the_outbox(s: Subject) {
    let t = ticket(seller(), "Concert", 12.5, 0);
    let event = created_event(&t);
    let listed = s.store.insert(&t, &event).await.expect("insert");
    assert_eq!(listed, Listed::Saved);
    assert_eq!(s.store.get(t.id).await.expect("get"), Some(t));
    let outbox = s.store.plumbing().outbox();
    let pending = outbox.unsent_after(0, 10).await.expect("outbox");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].event, event);
    assert_eq!(s.store.get(new_id()).await.expect("get"), None);
    s.store.plumbing().ping().await.expect("ping");
}

async fn a_saved_change_bumps_the_row_and_queues_its_events(s: Subject) {
    let seller = seller();
    let t = ticket(seller, "Concert", 20.0, 0);
    insert(&s.store, &t).await;
    let outcome = s
        .store
        .modify(
            t.id,
            None,
            Box::new(move |t: &mut Ticket| {
                let updated = t.edit(
                    seller,
                    TicketDraft::parse(Some("Renamed"), Some(30.0), Some("Row 1")).expect("draft"),
                )?;
                Ok(Decision::Save(vec![Envelope::new(
                    "tickets",
                    OffsetDateTime::now_utc(),
                    &updated,
                )]))
            }),
        )
        .await
        .expect("modify");
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
    let t = ticket(seller(), "Concert", 20.0, 0);
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
    assert_eq!(outcome, Modified::Refused(TicketError::NotOwner));
    assert_eq!(s.store.get(t.id).await.expect("get"), Some(t));
    assert_eq!(unsent_kinds(&s.store).await, ["ticket:created"]);
    assert!(
        s.store.claim_only(claim).await.expect("claim"),
        "the inbox entry was rolled back too"
    );
}

async fn a_claimed_event_is_applied_once(s: Subject) {
    let t = ticket(seller(), "Concert", 20.0, 0);
    insert(&s.store, &t).await;
    let claim = Claim {
        consumer: "test",
        event_id: new_id(),
    };
    let order = order();
    let reserve = move || -> Change {
        Box::new(move |t: &mut Ticket| {
            Ok(match t.reserve(order) {
                Some(_) => Decision::Save(vec![]),
                None => Decision::Keep,
            })
        })
    };
    let first = s
        .store
        .modify(t.id, Some(claim), reserve())
        .await
        .expect("modify");
    assert!(matches!(first, Modified::Saved(ref t) if t.version == 1));
    let second = s
        .store
        .modify(t.id, Some(claim), reserve())
        .await
        .expect("modify");
    assert_eq!(second, Modified::Duplicate);
    let other_consumer = Claim {
        consumer: "other",
        ..claim
    };
    let third = s
        .store
        .modify(t.id, Some(other_consumer), reserve())
        .await
        .expect("modify");
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
    assert_eq!(missing.expect("modify"), Modified::Missing);
    assert!(!s.store.claim_only(claim).await.expect("claim"));
}

async fn a_deleted_ticket_is_gone(s: Subject) {
    let t = ticket(seller(), "Concert", 20.0, 0);
    insert(&s.store, &t).await;
    let outcome = s
        .store
        .modify(
            t.id,
            None,
            Box::new(|t: &mut Ticket| {
                t.deleted = true;
                Ok(Decision::Save(vec![]))
            }),
        )
        .await
        .expect("modify");
    assert!(
        matches!(outcome, Modified::Saved(ref t) if t.deleted),
        "{outcome:?}"
    );
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
    assert_eq!(again.expect("modify"), Modified::Missing);
}
