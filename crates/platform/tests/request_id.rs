//! One request followed through the event pipeline: the request id the caller sends (or
//! the one the stack assigns) is on the request's log lines, travels in the envelope of
//! the event the handler publishes, and is on the log lines of the consumer that handles
//! that event — and current there, so the events the consumer publishes carry it on.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::Request;
use axum::routing::post;
use boxoffice_common::events::{EXPIRATION_COMPLETE, ExpirationComplete};
use boxoffice_common::new_id;
use boxoffice_platform::Secret;
use boxoffice_platform::bus::{Envelope, EventBus, InProcessBus};
use boxoffice_platform::consumer::{self, EventHandler, Handled, RetryPolicy};
use boxoffice_platform::http::{SessionKeys, stack};
use boxoffice_platform::telemetry::request_id;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// The consumer: logs a line while handling, and reports the envelope's and the current
/// request id.
struct Recorder(mpsc::UnboundedSender<(Option<String>, Option<String>)>);

#[async_trait::async_trait]
impl EventHandler for Recorder {
    async fn handle(&self, event: &Envelope) -> anyhow::Result<Handled> {
        tracing::info!("order expired");
        let _ = self
            .0
            .send((event.request_id.clone(), request_id::current()));
        Ok(Handled::Applied)
    }

    async fn park(&self, _: &Envelope, _: &str) -> anyhow::Result<()> {
        Ok(())
    }
}

/// The service: publishes one event per request and answers with its envelope.
async fn publish(State(bus): State<Arc<InProcessBus>>) -> axum::Json<Envelope> {
    tracing::info!("publishing");
    let event = Envelope::new(
        "expiration",
        time::OffsetDateTime::now_utc(),
        &ExpirationComplete { order_id: new_id() },
    );
    let receipt = bus.publish(&event).await.expect("published");
    receipt.await.expect("handled");
    axum::Json(event)
}

// One thread, so the test's log subscriber (set for this thread) sees every task.
#[tokio::test(flavor = "current_thread")]
async fn a_request_id_travels_from_the_request_through_the_event_to_the_consumer_logs() {
    let (logs, _guard) = boxoffice_platform::testing::logs::capture();

    let bus = Arc::new(InProcessBus::new());
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let consumer = consumer::subscribe(
        Arc::clone(&bus) as Arc<dyn EventBus>,
        "expiry-watcher",
        &[EXPIRATION_COMPLETE],
        Arc::new(Recorder(seen_tx)),
        RetryPolicy::default(),
    )
    .await
    .expect("subscribed");
    let stop = CancellationToken::new();
    tokio::spawn(consumer.run(stop.clone()));

    let keys = SessionKeys::new(
        &Secret::new("request-id-test-key-0123456789abcdef0123456789"),
        Duration::from_secs(60),
        false,
    );
    let app = stack::apply(
        Router::new()
            .route("/publish", post(publish))
            .with_state(Arc::clone(&bus)),
        keys,
    );
    let send = |id: &str| {
        Request::post("/publish")
            .header("x-request-id", id)
            .body(Body::empty())
            .expect("request")
    };

    // A well-formed id is kept, echoed and carried by the event.
    let response = app
        .clone()
        .oneshot(send("purchase-42"))
        .await
        .expect("answer");
    assert_eq!(response.headers()["x-request-id"], "purchase-42");
    let body = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .expect("body");
    let envelope: Envelope = serde_json::from_slice(&body).expect("envelope");
    assert_eq!(envelope.request_id.as_deref(), Some("purchase-42"));
    let (carried, current) = seen.recv().await.expect("consumer ran");
    assert_eq!(carried.as_deref(), Some("purchase-42"));
    assert_eq!(
        current.as_deref(),
        Some("purchase-42"),
        "current while handled"
    );

    // The handler's and the consumer's log lines both carry it.
    let lines = logs.lines();
    let carrying = |message: &str| {
        lines
            .iter()
            .any(|line| line["message"] == message && line["span"]["request_id"] == "purchase-42")
    };
    assert!(carrying("publishing"), "{lines:#?}");
    assert!(carrying("order expired"), "{lines:#?}");
    let consumer_line = lines
        .iter()
        .find(|line| line["message"] == "order expired")
        .expect("consumer line");
    assert_eq!(consumer_line["span"]["consumer"], "expiry-watcher");

    // A malformed id is replaced by a fresh one, which travels instead.
    let response = app
        .oneshot(send("no spaces {allowed}"))
        .await
        .expect("answer");
    let assigned = response.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(uuid::Uuid::parse_str(&assigned).is_ok(), "{assigned}");
    let (carried, _) = seen.recv().await.expect("consumer ran");
    assert_eq!(carried.as_deref(), Some(assigned.as_str()));

    stop.cancel();
}
