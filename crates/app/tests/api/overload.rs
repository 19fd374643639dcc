//! Load shedding through the real stack: with every place taken by a request that waits
//! in its handler, the next request is refused at once with 503, `Retry-After` and the
//! contract's error body, while health and readiness still answer; once the place is
//! free, requests are served again.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::json;

use crate::supervision::{Faults, faulty_app, reported_down};

#[tokio::test]
async fn beyond_the_requests_in_flight_the_server_sheds_with_retry_after() {
    let faults = Arc::new(Faults::default());
    let (app, orders_fresh) = faulty_app(&faults, |settings| {
        settings.max_in_flight_requests = 1;
        settings.fresh_id_wait_seconds = 30;
    })
    .await;
    let (seller, buyer) = (app.user().await, app.user().await);

    // An order for a ticket whose event is held back waits in its handler: the one place.
    faults.relay.store(true, Ordering::SeqCst);
    let ticket = app.listed_ticket(&seller, "Crowded", 40.0).await;
    let ticket_id = ticket["id"].as_str().expect("id").to_owned();
    reported_down(&app, "relay tickets panicked").await;
    let request = app
        .as_user(&buyer, reqwest::Method::POST, "/api/orders")
        .json(&json!({ "ticketId": ticket_id }));
    let in_flight =
        tokio::spawn(async move { request.send().await.expect("answered").status().as_u16() });
    crate::helpers::eventually("the order request waits in its handler", || async {
        orders_fresh.stats().waits >= 1
    })
    .await;

    let shed = app.get(&format!("/api/tickets/{ticket_id}")).await;
    assert_eq!(shed.status, 503, "{}", shed.body);
    assert_eq!(shed.headers["retry-after"], "1");
    assert_eq!(
        shed.body["errors"][0]["message"],
        boxoffice_platform::http::shed::BUSY
    );
    assert_eq!(
        app.get("/healthz").await.status,
        200,
        "health is never shed"
    );
    let ready = app.get("/readyz").await;
    assert!(
        ready.body["checks"].is_object(),
        "readiness answers with its checks: {}",
        ready.body
    );
    let shed_count = app
        .metrics()
        .await
        .lines()
        .find_map(|line| line.strip_prefix("boxoffice_http_requests_shed_total "))
        .and_then(|value| value.trim().parse::<f64>().ok());
    assert!(shed_count >= Some(1.0), "{shed_count:?}");

    faults.relay.store(false, Ordering::SeqCst);
    assert_eq!(in_flight.await.expect("order task"), 201);
    assert_eq!(
        app.get(&format!("/api/tickets/{ticket_id}")).await.status,
        200,
        "served again once the place is free"
    );
    app.assert_settled().await;
}
