//! The relay on PostgreSQL, where commit order need not follow `seq` order.

use std::sync::Arc;
use std::time::Duration;

use boxoffice_common::events::TicketDeleted;
use boxoffice_common::new_id;
use boxoffice_platform::bus::{Envelope, EventBus, InProcessBus};
use boxoffice_platform::db::postgres;
use boxoffice_platform::outbox::Relay;
use boxoffice_platform::outbox::postgres::{PostgresOutbox, enqueue};
use boxoffice_platform::testing::TestDatabase;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

fn event() -> Envelope {
    Envelope::new(
        "test",
        time::OffsetDateTime::now_utc(),
        &TicketDeleted {
            id: new_id(),
            version: 1,
        },
    )
}

#[tokio::test]
async fn a_row_that_commits_behind_the_cursor_is_still_published() {
    let database = TestDatabase::create("boxoffice_outbox")
        .await
        .expect("database");
    let pool = postgres::connect(database.url()).await.expect("connect");
    sqlx::raw_sql(
        "CREATE TABLE outbox (seq BIGSERIAL PRIMARY KEY, id UUID NOT NULL UNIQUE, envelope JSONB NOT NULL, sent_at TIMESTAMPTZ)",
    )
    .execute(&pool)
    .await
    .expect("schema");

    let bus = Arc::new(InProcessBus::new());
    let mut subscription = bus
        .subscribe("orders", &["ticket:deleted"])
        .await
        .expect("subscribe");
    let wake = Arc::new(Notify::new());
    let stop = CancellationToken::new();
    let relay = Relay::new(
        "test",
        Arc::new(PostgresOutbox::new(pool.clone())),
        bus.clone() as Arc<dyn EventBus>,
        Arc::clone(&wake),
    );
    tokio::spawn(relay.run(stop.clone()));

    // `early` takes seq 1 but commits after `late` (seq 2) has been published.
    let (early, late) = (event(), event());
    let mut slow = pool.begin().await.expect("begin");
    enqueue(&mut slow, &early).await.expect("enqueue");
    let mut fast = pool.begin().await.expect("begin");
    enqueue(&mut fast, &late).await.expect("enqueue");
    fast.commit().await.expect("commit");
    wake.notify_one();
    let first = tokio::time::timeout(Duration::from_secs(5), subscription.next())
        .await
        .expect("in time")
        .expect("open");
    assert_eq!(first.event.id, late.id);
    first.ack().await;

    slow.commit().await.expect("commit");
    wake.notify_one();
    let second = tokio::time::timeout(Duration::from_secs(5), subscription.next())
        .await
        .expect("the row behind the cursor is published")
        .expect("open");
    assert_eq!(second.event.id, early.id);
    second.ack().await;
    stop.cancel();
}
