//! Supervised background work, proven with injected faults: a relay and a consumer that
//! panic are logged with their cause, counted in `/metrics`, reported by `/readyz` while
//! down and started again; the event they were handling still arrives. Shutdown lets an
//! in-flight request finish while the background work still runs.
//!
//! The faults sit in a bus wrapped around the embedded mode's own
//! ([`Application::embedded_with_bus`]); the tests run on one thread so that their log
//! subscriber (set for this thread) sees every task.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use boxoffice_app::application::Application;
use boxoffice_app::cli::{Service, Settings};
use boxoffice_common::events::TICKET_CREATED;
use boxoffice_platform::Secret;
use boxoffice_platform::bus::{Delivery, Envelope, EventBus, Receipt, Subscription};
use serde_json::{Value, json};

use crate::helpers::{EVENTUALLY, TEST_KEY, TestApp, WEBHOOK_SECRET, eventually, start};

/// Which faults are switched on.
#[derive(Debug, Default)]
pub struct Faults {
    /// Publishing `ticket:created` panics: the tickets service's relay dies.
    pub relay: AtomicBool,
    /// Receiving `ticket:created` as the orders service's consumer panics.
    pub orders_consumer: AtomicBool,
}

/// The embedded bus with [`Faults`] in its way.
struct FaultyBus {
    inner: Arc<dyn EventBus>,
    faults: Arc<Faults>,
}

#[async_trait::async_trait]
impl EventBus for FaultyBus {
    async fn publish(&self, event: &Envelope) -> anyhow::Result<Receipt> {
        if event.kind == TICKET_CREATED && self.faults.relay.load(Ordering::SeqCst) {
            panic!("injected fault: publishing {TICKET_CREATED}");
        }
        self.inner.publish(event).await
    }

    async fn subscribe(
        &self,
        durable: &str,
        types: &[&'static str],
    ) -> anyhow::Result<Box<dyn Subscription>> {
        let inner = self.inner.subscribe(durable, types).await?;
        Ok(Box::new(FaultySubscription {
            inner,
            durable: durable.to_owned(),
            faults: Arc::clone(&self.faults),
        }))
    }

    async fn follow(
        &self,
        name: &str,
        types: &[&'static str],
        since: time::OffsetDateTime,
    ) -> anyhow::Result<(Box<dyn Subscription>, u64)> {
        self.inner.follow(name, types, since).await
    }
}

struct FaultySubscription {
    inner: Box<dyn Subscription>,
    durable: String,
    faults: Arc<Faults>,
}

#[async_trait::async_trait]
impl Subscription for FaultySubscription {
    async fn next(&mut self) -> Option<Delivery> {
        let delivery = self.inner.next().await?;
        if self.durable == boxoffice_orders::events::CONSUMER
            && delivery.event.kind == TICKET_CREATED
            && self.faults.orders_consumer.load(Ordering::SeqCst)
        {
            // The delivery goes down with the consumer, unacknowledged.
            panic!("injected fault: receiving {TICKET_CREATED}");
        }
        Some(delivery)
    }
}

/// Starts the embedded mode with `faults` in its bus and returns it with the orders
/// service's fresh-id waiters.
pub async fn faulty_app(
    faults: &Arc<Faults>,
    adjust: impl FnOnce(&mut Settings),
) -> (TestApp, boxoffice_platform::fresh::FreshIds) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings::for_data_dir(dir.path());
    settings.jwt_key = Some(Secret::new(TEST_KEY));
    settings.stripe_webhook_secret = Some(Secret::new(WEBHOOK_SECRET));
    adjust(&mut settings);
    let faults = Arc::clone(faults);
    let app = Application::embedded_with_bus(&settings, move |inner| {
        Arc::new(FaultyBus { inner, faults })
    })
    .await
    .expect("embedded app starts");
    let fresh = app
        .fresh_ids(Service::Orders)
        .expect("orders keeps a replica");
    (start(app, Some(dir), None), fresh)
}

/// What `/readyz` says of the background tasks once it reports one whose report contains
/// `needle`.
pub async fn reported_down(app: &TestApp, needle: &str) -> String {
    let deadline = tokio::time::Instant::now() + EVENTUALLY;
    loop {
        let ready = app.get("/readyz").await;
        let report = ready.body["checks"]["background-tasks"]
            .as_str()
            .unwrap_or_default();
        if ready.status == 503 && report.contains(needle) {
            return report.to_owned();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "/readyz never reported {needle}: {}",
            ready.body
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// The value of the counter `name` for `task` in `/metrics`.
async fn task_counter(app: &TestApp, name: &str, task: &str) -> f64 {
    let text = app.metrics().await;
    let series = format!("{name}{{task=\"{task}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&series))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {series} in /metrics"))
}

#[tokio::test(flavor = "current_thread")]
async fn a_relay_and_a_consumer_that_panic_are_reported_restarted_and_lose_no_event() {
    let (logs, _guard) = boxoffice_platform::testing::logs::capture();

    let faults = Arc::new(Faults::default());
    let (app, _) = faulty_app(&faults, |_| {}).await;
    let (seller, buyer) = (app.user().await, app.user().await);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, 200, "{}", ready.body);

    // The relay dies publishing the new ticket, and dies again on each restart.
    faults.relay.store(true, Ordering::SeqCst);
    let ticket = app.listed_ticket(&seller, "Supervised", 25.0).await;
    let ticket_id = ticket["id"].as_str().expect("id");
    let report = reported_down(&app, "relay tickets panicked").await;
    assert!(report.contains("injected fault"), "{report}");

    // Healed, it publishes; now the orders consumer dies receiving it.
    faults.orders_consumer.store(true, Ordering::SeqCst);
    faults.relay.store(false, Ordering::SeqCst);
    let report = reported_down(&app, "consumer orders panicked").await;
    assert!(report.contains("injected fault"), "{report}");

    // Healed, the restarted consumer gets the event again: nothing was lost.
    faults.orders_consumer.store(false, Ordering::SeqCst);
    eventually("/readyz is ready again", || async {
        app.get("/readyz").await.status == 200
    })
    .await;
    let order = app.order(&buyer, ticket_id).await;
    assert_eq!(order.status, 201, "{}", order.body);

    for task in ["relay tickets", "consumer orders"] {
        let deaths = task_counter(&app, "boxoffice_background_task_deaths_total", task).await;
        let restarts = task_counter(&app, "boxoffice_background_task_restarts_total", task).await;
        assert!(deaths >= 1.0, "{task}: {deaths} deaths");
        assert!(restarts >= 1.0, "{task}: {restarts} restarts");
    }
    let errors: Vec<Value> = logs
        .lines()
        .into_iter()
        .filter(|line| line["level"] == "ERROR")
        .collect();
    for task in ["relay tickets", "consumer orders"] {
        let logged = errors.iter().find(|line| line["task"] == task);
        let why = logged
            .and_then(|line| line["why"].as_str())
            .unwrap_or_else(|| panic!("no error logged for {task}: {errors:?}"));
        assert!(
            why.starts_with("panicked: injected fault"),
            "{task} logged {why}"
        );
    }
    app.assert_settled().await;
}

#[tokio::test(flavor = "current_thread")]
async fn shutdown_lets_an_in_flight_request_finish_while_the_background_work_still_runs() {
    let faults = Arc::new(Faults::default());
    let (app, orders_fresh) = faulty_app(&faults, |settings| {
        settings.fresh_id_wait_seconds = 30;
    })
    .await;
    let (seller, buyer) = (app.user().await, app.user().await);

    // The ticket's event is held back, so an order for it waits for it in the handler.
    faults.relay.store(true, Ordering::SeqCst);
    let ticket = app.listed_ticket(&seller, "Drained", 30.0).await;
    let ticket_id = ticket["id"].as_str().expect("id").to_owned();
    reported_down(&app, "relay tickets panicked").await;
    let request = app
        .as_user(&buyer, reqwest::Method::POST, "/api/orders")
        .json(&json!({ "ticketId": ticket_id }));
    let in_flight = tokio::spawn(async move {
        let response = request.send().await.expect("answered, not cut off");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    });
    eventually("the order request waits for its ticket", || async {
        orders_fresh.stats().waits >= 1
    })
    .await;

    // Shutdown starts while the request is in flight; the relay, healed now, still runs
    // during the drain and delivers the ticket the request waits for.
    let stopped = tokio::spawn(app.stop());
    faults.relay.store(false, Ordering::SeqCst);
    let (status, body) = in_flight.await.expect("request task");
    assert_eq!(status, 201, "{body}");
    stopped.await.expect("the app stopped cleanly");
}
