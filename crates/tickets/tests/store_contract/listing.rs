//! The listing: filters, sorts, pages and the total count.

use boxoffice_common::Money;
use boxoffice_platform::store::{Decision, Modified};
use boxoffice_tickets::domain::{Ticket, TicketStatus};
use boxoffice_tickets::store::{ListQuery, Sort, StatusFilter};

use super::helpers::{Subject, insert, order, postgres, seller, sqlite, ticket};

boxoffice_platform::on_both_databases!(listing_filters_sorts_and_counts);

async fn listing_filters_sorts_and_counts(s: Subject) {
    let (ann, bob) = (seller(), seller());
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
    let order = order();
    let outcome = s
        .store
        .modify(
            sold,
            None,
            Box::new(move |t: &mut Ticket| {
                Ok(match t.sell(order) {
                    Some(_) => Decision::Save(vec![]),
                    None => Decision::Keep,
                })
            }),
        )
        .await
        .expect("modify");
    assert!(matches!(outcome, Modified::Saved(_)), "{outcome:?}");

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
    by_bob.seller = Some(bob.get());
    let (page, _) = s.store.list(&by_bob).await.expect("list");
    assert_eq!(titles(&page), ["Opera matinee", "Sold out show"]);
}
