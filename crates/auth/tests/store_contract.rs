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
        Arc::new(SqliteUserStore::open(db).await.expect("migrate")),
        dir,
    )
}

async fn postgres() -> Subject {
    let (pool, database) = postgres_db("boxoffice_auth_store").await.expect("postgres");
    Subject::new(
        Arc::new(PostgresUserStore::open(pool).await.expect("migrate")),
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
