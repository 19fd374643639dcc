//! The `PaymentStore`'s order replica and `Idempotency-Key` records on SQLite and
//! PostgreSQL.

use boxoffice_common::new_id;
use boxoffice_payments::domain::OrderState;
use boxoffice_payments::store::ReplicaOutcome;
use boxoffice_platform::idempotency::KeyState;
use time::OffsetDateTime;

mod support;

use support::{Subject, claim, postgres, replica, sqlite};

boxoffice_platform::on_both_databases!(
    the_order_replica_keeps_the_newest_version,
    idempotency_keys_replay_refuse_or_wait,
);

fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_790_000_000 + seconds).expect("time")
}

async fn the_order_replica_keeps_the_newest_version(s: Subject) {
    let id = new_id();
    let event = new_id();
    assert_eq!(
        s.store
            .apply_order(claim(event), &replica(id, OrderState::Open, 0))
            .await
            .expect("apply"),
        ReplicaOutcome::Applied
    );
    assert_eq!(
        s.store
            .apply_order(claim(event), &replica(id, OrderState::Open, 0))
            .await
            .expect("apply"),
        ReplicaOutcome::Duplicate
    );
    assert_eq!(
        s.store
            .apply_order(claim(new_id()), &replica(id, OrderState::Cancelled, 3))
            .await
            .expect("apply"),
        ReplicaOutcome::Applied
    );
    assert_eq!(
        s.store
            .apply_order(claim(new_id()), &replica(id, OrderState::Open, 1))
            .await
            .expect("apply"),
        ReplicaOutcome::Stale
    );
    assert_eq!(
        s.store.order(id).await.expect("read"),
        Some(replica(id, OrderState::Cancelled, 3))
    );
    assert_eq!(s.store.order(new_id()).await.expect("read"), None);
    s.store.plumbing().ping().await.expect("ping");
}

async fn idempotency_keys_replay_refuse_or_wait(s: Subject) {
    let user = new_id();
    let now = at(0);
    assert_eq!(
        s.store
            .idempotency()
            .claim_key(user, "k1", "hash-a", now)
            .await
            .expect("claim"),
        KeyState::Fresh
    );
    assert_eq!(
        s.store
            .idempotency()
            .claim_key(user, "k1", "hash-a", now)
            .await
            .expect("claim"),
        KeyState::InProgress
    );
    assert_eq!(
        s.store
            .idempotency()
            .claim_key(user, "k1", "hash-b", now)
            .await
            .expect("claim"),
        KeyState::Mismatch
    );
    assert_eq!(
        s.store
            .idempotency()
            .claim_key(new_id(), "k1", "hash-b", now)
            .await
            .expect("claim"),
        KeyState::Fresh,
        "keys are per user"
    );

    s.store
        .idempotency()
        .finish_key(user, "k1", 201, r#"{"id":"p1"}"#)
        .await
        .expect("finish");
    assert_eq!(
        s.store
            .idempotency()
            .claim_key(user, "k1", "hash-a", now)
            .await
            .expect("claim"),
        KeyState::Replay {
            status: 201,
            body: r#"{"id":"p1"}"#.into()
        }
    );
    let a_day_later = now + time::Duration::hours(25);
    assert_eq!(
        s.store
            .idempotency()
            .claim_key(user, "k1", "hash-b", a_day_later)
            .await
            .expect("claim"),
        KeyState::Fresh,
        "expired keys are forgotten"
    );

    assert_eq!(
        s.store
            .idempotency()
            .claim_key(user, "k2", "hash-a", now)
            .await
            .expect("claim"),
        KeyState::Fresh
    );
    s.store
        .idempotency()
        .release_key(user, "k2")
        .await
        .expect("release");
    assert_eq!(
        s.store
            .idempotency()
            .claim_key(user, "k2", "hash-a", now)
            .await
            .expect("claim"),
        KeyState::Fresh,
        "released keys can be used again"
    );
}
