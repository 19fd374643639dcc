//! The outbox and the dead letters every store has, through its plumbing.

use time::OffsetDateTime;

use super::helpers::{Subject, created_event, insert, postgres, seller, sqlite, ticket};

boxoffice_platform::on_both_databases!(
    published_rows_leave_the_unsent_set,
    dead_letters_are_kept_with_their_reason,
);

async fn published_rows_leave_the_unsent_set(s: Subject) {
    for i in 0..3 {
        insert(&s.store, &ticket(seller(), "Concert", 20.0, i)).await;
    }
    let outbox = s.store.plumbing().outbox();
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
    let event = created_event(&ticket(seller(), "Concert", 20.0, 0));
    let plumbing = s.store.plumbing();
    plumbing
        .park("tickets", &event, "it kept failing")
        .await
        .expect("park");
    plumbing
        .park("tickets", &event, "again")
        .await
        .expect("parking twice is harmless");
    assert_eq!(
        plumbing.dead_letters("tickets").await.expect("read"),
        vec![(event, "it kept failing".to_owned())]
    );
    assert!(
        plumbing
            .dead_letters("other")
            .await
            .expect("read")
            .is_empty()
    );
}
