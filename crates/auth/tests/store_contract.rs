//! One set of cases for every `UserStore`: the SQLite file of the embedded mode and a
//! fresh PostgreSQL database on the local server.

use std::sync::Arc;

use boxoffice_auth::domain::{Email, User};
use boxoffice_auth::store::{InsertUserError, PostgresUserStore, SqliteUserStore, UserStore};
use boxoffice_common::new_id;
use boxoffice_platform::testing::{postgres_db, sqlite_db};
use time::OffsetDateTime;

type Subject = boxoffice_platform::testing::Subject<dyn UserStore>;

async fn sqlite() -> Subject {
    let (db, dir) = sqlite_db("auth").await.expect("sqlite");
    Subject::new(
        Arc::new(
            SqliteUserStore::open(db, Arc::default())
                .await
                .expect("migrate"),
        ),
        dir,
    )
}

async fn postgres() -> Subject {
    let (pool, database) = postgres_db("boxoffice_auth_store").await.expect("postgres");
    Subject::new(
        Arc::new(
            PostgresUserStore::open(pool, Arc::default())
                .await
                .expect("migrate"),
        ),
        database,
    )
}

boxoffice_platform::on_both_databases!(
    failed_sign_ins_are_counted_per_email_and_forgotten,
    an_inserted_user_is_found_by_email_in_any_case,
    an_unknown_email_finds_nothing,
    a_second_account_for_the_same_email_is_refused,
    concurrent_inserts_of_one_email_have_exactly_one_winner,
    ping_answers,
    ended_sessions_are_kept_with_their_events_until_they_no_longer_matter,
);

fn user(email: &str) -> User {
    User {
        id: new_id(),
        email: Email::parse(email).expect("valid email"),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA".to_owned(),
        // Whole seconds: both stores keep at least microseconds, tests compare exactly.
        created_at: OffsetDateTime::from_unix_timestamp(1_790_000_000).expect("time"),
    }
}

async fn an_inserted_user_is_found_by_email_in_any_case(subject: Subject) {
    let ann = user("ann@example.com");
    subject.store.insert(&ann).await.expect("insert");

    let found = subject
        .store
        .find_by_email(&Email::parse("ANN@Example.com").expect("valid"))
        .await
        .expect("query");
    assert_eq!(found, Some(ann));
}

async fn an_unknown_email_finds_nothing(subject: Subject) {
    subject
        .store
        .insert(&user("ann@example.com"))
        .await
        .expect("insert");
    let found = subject
        .store
        .find_by_email(&Email::parse("bob@example.com").expect("valid"))
        .await
        .expect("query");
    assert_eq!(found, None);
}

async fn a_second_account_for_the_same_email_is_refused(subject: Subject) {
    subject
        .store
        .insert(&user("ann@example.com"))
        .await
        .expect("insert");
    let second = subject.store.insert(&user("ann@example.com")).await;
    assert!(
        matches!(second, Err(InsertUserError::EmailTaken)),
        "{second:?}"
    );
}

async fn concurrent_inserts_of_one_email_have_exactly_one_winner(subject: Subject) {
    let attempts: Vec<_> = (0..16)
        .map(|_| {
            let store = Arc::clone(&subject.store);
            tokio::spawn(async move { store.insert(&user("race@example.com")).await })
        })
        .collect();
    let mut won = 0;
    for attempt in attempts {
        match attempt.await.expect("task") {
            Ok(()) => won += 1,
            Err(InsertUserError::EmailTaken) => {}
            Err(other) => panic!("unexpected error: {other:?}"),
        }
    }
    assert_eq!(won, 1);
}

async fn ping_answers(subject: Subject) {
    subject.store.plumbing().ping().await.expect("ping");
}

async fn failed_sign_ins_are_counted_per_email_and_forgotten(subject: Subject) {
    let ann = Email::parse("ann@example.com").expect("valid");
    let bob = Email::parse("bob@example.com").expect("valid");
    let at =
        |seconds: i64| OffsetDateTime::from_unix_timestamp(1_790_000_000 + seconds).expect("time");
    for seconds in [0, 10, 20] {
        subject
            .store
            .record_signin_failure(&ann, at(seconds), at(-1000))
            .await
            .expect("record");
    }
    subject
        .store
        .record_signin_failure(&bob, at(30), at(-1000))
        .await
        .expect("record");
    assert_eq!(
        subject
            .store
            .signin_failures(&ann, at(5))
            .await
            .expect("read"),
        vec![at(10), at(20)]
    );
    assert_eq!(
        subject
            .store
            .signin_failures(&bob, at(0))
            .await
            .expect("read"),
        vec![at(30)]
    );

    // A new failure sweeps everything older than its window, for every email.
    subject
        .store
        .record_signin_failure(&bob, at(40), at(15))
        .await
        .expect("record");
    assert_eq!(
        subject
            .store
            .signin_failures(&ann, at(0))
            .await
            .expect("read"),
        vec![at(20)]
    );

    subject
        .store
        .clear_signin_failures(&bob)
        .await
        .expect("clear");
    assert!(
        subject
            .store
            .signin_failures(&bob, at(0))
            .await
            .expect("read")
            .is_empty()
    );
    assert_eq!(
        subject
            .store
            .signin_failures(&ann, at(0))
            .await
            .expect("read")
            .len(),
        1
    );
}

async fn ended_sessions_are_kept_with_their_events_until_they_no_longer_matter(subject: Subject) {
    use boxoffice_common::events::{SessionRevoked, UserSignedOutEverywhere};
    use boxoffice_platform::bus::Envelope;
    use std::time::Duration;

    let now = OffsetDateTime::now_utc();
    let ttl = Duration::from_secs(7 * 86_400);
    let at = |seconds: i64| now + time::Duration::seconds(seconds);
    let live = SessionRevoked {
        sid: new_id(),
        user_id: new_id(),
        // Whole microseconds: PostgreSQL keeps no finer.
        expires_at: at(3600).replace_nanosecond(0).expect("time"),
    };
    let expired = SessionRevoked {
        sid: new_id(),
        user_id: new_id(),
        expires_at: at(-3600).replace_nanosecond(0).expect("time"),
    };
    let everywhere = UserSignedOutEverywhere {
        user_id: new_id(),
        valid_after: at(-10).replace_nanosecond(0).expect("time"),
    };
    let long_ago = UserSignedOutEverywhere {
        user_id: new_id(),
        valid_after: at(-8 * 86_400).replace_nanosecond(0).expect("time"),
    };
    for revoked in [&live, &expired] {
        let event = Envelope::new("auth", now, revoked);
        subject
            .store
            .revoke_session(revoked, &event)
            .await
            .expect("revoke");
        // A second sign-out of the same session is harmless.
        let again = Envelope::new("auth", now, revoked);
        subject
            .store
            .revoke_session(revoked, &again)
            .await
            .expect("revoke again");
    }
    for signed_out in [&long_ago, &everywhere] {
        let event = Envelope::new("auth", now, signed_out);
        subject
            .store
            .sign_out_everywhere(signed_out, &event)
            .await
            .expect("sign out everywhere");
    }

    let ended = subject.store.ended_sessions(now, ttl).await.expect("read");
    assert_eq!(ended.revoked, vec![live]);
    assert_eq!(ended.signed_out, vec![everywhere]);

    let outbox = subject.store.plumbing().outbox();
    let pending = outbox.unsent_after(0, 100).await.expect("outbox");
    let kinds: Vec<_> = pending.iter().map(|p| p.event.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "session:revoked",
            "session:revoked",
            "session:revoked",
            "session:revoked",
            "user:signed-out-everywhere",
            "user:signed-out-everywhere",
        ]
    );
}
