//! Read your own writes: an id the API has just returned is usable at once on every
//! service, with no retries — a ticket ordered and queued for the moment it is listed —
//! while unknown ids that are old or made up are answered 404 without any wait.
//!
//! Each test builds the embedded app itself to read the services' fresh-id counters
//! (`Application::fresh_ids`); the distributed mode's case is in `distributed.rs`.

use std::time::{Duration, Instant};

use boxoffice_app::application::Application;
use boxoffice_app::cli::{Service, Settings};
use boxoffice_platform::Secret;
use boxoffice_platform::fresh::{FreshIds, FreshStats};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{TEST_KEY, TestApp, User, WEBHOOK_SECRET, start};

/// How many tickets are listed and ordered, one after another.
const IN_A_ROW: usize = 1_000;
/// The queue's answer to joining the line of a ticket it knows nobody holds.
const TICKET_AVAILABLE: &str = "Ticket is available; order it directly";
/// The queue's answer once it heard the ticket was sold.
const TICKET_SOLD: &str = "Ticket is already sold";

/// The embedded app with `adjust`ed settings, and the orders, queue and payments
/// services' fresh-id waiters.
async fn app_with_counters(
    adjust: impl FnOnce(&mut Settings),
) -> (TestApp, FreshIds, FreshIds, FreshIds) {
    boxoffice_platform::telemetry::init_tracing(Default::default());
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings::for_data_dir(dir.path());
    settings.jwt_key = Some(Secret::new(TEST_KEY));
    settings.stripe_webhook_secret = Some(Secret::new(WEBHOOK_SECRET));
    adjust(&mut settings);
    let app = Application::embedded(&settings)
        .await
        .expect("embedded app starts");
    let orders = app.fresh_ids(Service::Orders).expect("orders waits");
    let queue = app.fresh_ids(Service::Queue).expect("queue waits");
    let payments = app.fresh_ids(Service::Payments).expect("payments waits");
    (start(app, Some(dir), None), orders, queue, payments)
}

/// Lists a ticket on `tickets` and uses it at once — one request each, no retry: orders
/// it on `orders` as `buyer` (201), pays for the order on `payments` the moment it is
/// placed (201 `succeeded`), and asks `queue` to put `other` in its line. Joining first
/// is answered as for any free ticket (400 "available"); joining after the order gets
/// 202, "available" if the queue has not heard of the order yet, or "sold" once the
/// payment went through — never 404. Returns how long the order and the payment took.
pub(crate) async fn list_then_use_at_once(
    (tickets, orders, payments, queue): (&TestApp, &TestApp, &TestApp, &TestApp),
    (seller, buyer, other): (&User, &User, &User),
    queue_first: bool,
) -> (Duration, Duration) {
    let listed = tickets
        .send(
            tickets
                .as_user(seller, Method::POST, "/api/tickets")
                .json(&json!({ "title": "Fresh", "price": 12.5 })),
        )
        .await;
    assert_eq!(listed.status, 201, "{}", listed.body);
    let ticket_id = listed.body["id"].as_str().expect("id");
    let join = || async {
        let joined = queue
            .send(queue.as_user(other, Method::POST, &format!("/api/queue/{ticket_id}")))
            .await;
        let available = joined.status == 400 && joined.error_messages() == [TICKET_AVAILABLE];
        (joined.status == 202, available, joined)
    };
    if queue_first {
        let (_, available, joined) = join().await;
        assert!(available, "the queue knows the ticket at once: {joined:?}");
    }

    let started = Instant::now();
    let ordered = orders
        .send(
            orders
                .as_user(buyer, Method::POST, "/api/orders")
                .json(&json!({ "ticketId": ticket_id })),
        )
        .await;
    let took = started.elapsed();
    assert_eq!(ordered.status, 201, "first try, no retry: {}", ordered.body);
    let order_id = ordered.body["id"].as_str().expect("order id");

    let started = Instant::now();
    let paid = payments
        .send(
            payments
                .as_user(buyer, Method::POST, "/api/payments")
                .json(&json!({ "orderId": order_id, "token": "tok_visa" })),
        )
        .await;
    let paying_took = started.elapsed();
    assert_eq!(
        (paid.status, paid.body["status"].as_str()),
        (201, Some("succeeded")),
        "paid on the first try, no retry: {}",
        paid.body
    );

    if !queue_first {
        let (in_line, available, joined) = join().await;
        let sold = joined.status == 400 && joined.error_messages() == [TICKET_SOLD];
        assert!(
            in_line || available || sold,
            "the queue knows the ticket at once: {joined:?}"
        );
    }
    (took, paying_took)
}

/// p50 and p99 of `took`, and the waits behind them, for the test's output (the README
/// quotes it).
pub(crate) fn report(what: &str, mut took: Vec<Duration>, stats: FreshStats) {
    if took.is_empty() {
        return;
    }
    took.sort();
    let at = |q: f64| {
        let last = took.len().saturating_sub(1);
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        took[((last as f64) * q).round() as usize]
    };
    let mean_wait = stats
        .waited
        .checked_div(u32::try_from(stats.waits.max(1)).unwrap_or(u32::MAX))
        .unwrap_or_default();
    println!(
        "{what}: {} requests, p50 {:?}, p99 {:?}, max {:?}; {} waited for their id \
         (mean wait {:?}), {} reached the bound",
        took.len(),
        at(0.50),
        at(0.99),
        at(1.0),
        stats.waits,
        mean_wait,
        stats.timed_out
    );
}

#[tokio::test]
async fn a_thousand_tickets_each_ordered_and_paid_the_moment_it_is_listed_all_get_201() {
    let (app, orders, queue, payments) = app_with_counters(|_| {}).await;
    let settled = app.settled_check();
    let (seller, buyer, other) = (app.user().await, app.user().await, app.user().await);
    let (mut took, mut paying) = (Vec::with_capacity(IN_A_ROW), Vec::with_capacity(IN_A_ROW));
    for i in 0..IN_A_ROW {
        let users = (&seller, &buyer, &other);
        let (order, pay) = list_then_use_at_once((&app, &app, &app, &app), users, i % 2 == 0).await;
        took.push(order);
        paying.push(pay);
    }
    let stats = orders.stats();
    report("embedded orders", took, stats);
    report(
        "embedded payments (order placed → succeeded)",
        paying,
        payments.stats(),
    );
    assert_eq!(
        payments.stats().timed_out,
        0,
        "every payment found its order"
    );
    println!("embedded queue joins: {:?}", queue.stats());
    assert_eq!(stats.timed_out, 0, "every wait ended with the ticket found");
    assert_eq!(queue.stats().timed_out, 0);
    assert_eq!((stats.not_fresh, queue.stats().not_fresh), (0, 0));
    settled.assert().await;
}

#[tokio::test]
async fn unknown_ids_are_404_and_only_a_fresh_one_is_waited_for_up_to_the_bound() {
    let (app, orders, queue, _) = app_with_counters(|s| s.fresh_id_wait_seconds = 1).await;
    let buyer = app.user().await;
    let app = &app;
    let buyer = &buyer;
    let order = |ticket_id: String| async move {
        let request = app
            .as_user(buyer, Method::POST, "/api/orders")
            .json(&json!({ "ticketId": ticket_id }));
        let started = Instant::now();
        let reply = app.send(request).await;
        (reply, started.elapsed())
    };
    let an_hour_ago = uuid::Uuid::new_v7(uuid::Timestamp::from_unix(
        uuid::NoContext,
        u64::try_from(time::OffsetDateTime::now_utc().unix_timestamp() - 3_600).expect("time"),
        0,
    ));
    let cases = [
        ("not-an-id".to_owned(), 0),
        (an_hour_ago.to_string(), 1),
        (uuid::Uuid::new_v4().to_string(), 2),
    ];
    for (ticket_id, not_fresh) in cases {
        let (reply, took) = order(ticket_id.clone()).await;
        assert_eq!(
            (reply.status, reply.error_messages()),
            (404, vec!["Not found".to_owned()])
        );
        let stats = orders.stats();
        assert_eq!(
            (stats.waits, stats.not_fresh),
            (0, not_fresh),
            "{ticket_id}: answered without waiting"
        );
        assert!(took < Duration::from_millis(500), "{ticket_id}: {took:?}");
    }
    // A v7 id minted just now that nobody listed: waited for, then 404 at the bound.
    let (reply, took) = order(boxoffice_common::new_id().to_string()).await;
    assert_eq!(reply.status, 404, "{}", reply.body);
    let stats = orders.stats();
    assert_eq!((stats.waits, stats.found, stats.timed_out), (1, 0, 1));
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "waited about the bound: {took:?}"
    );

    // The queue: an old unknown ticket is 404 at once too.
    let joined = app
        .send(app.as_user(buyer, Method::POST, &format!("/api/queue/{an_hour_ago}")))
        .await;
    assert_eq!(joined.status, 404, "{}", joined.body);
    assert_eq!((queue.stats().waits, queue.stats().not_fresh), (0, 1));
    app.assert_settled().await;
}
