//! Orders across time and failures: expiry, a restart with events and jobs left behind,
//! and retried requests under an idempotency key.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{eventually, spawn_app, spawn_app_with, start};
use crate::orders::{listed, ticket_status};

#[tokio::test]
async fn an_unpaid_order_expires_and_the_ticket_can_be_ordered_again() {
    let app = spawn_app_with(|settings| settings.expiration_window_seconds = 1).await;
    let (_, buyer, ticket_id) = listed(&app).await;
    let order = app.order(&buyer, &ticket_id).await.body;
    let order_id = order["id"].as_str().expect("id");

    eventually("the order expires", || async {
        app.order_of(&buyer, order_id).await["status"] == "cancelled"
    })
    .await;
    let expired = app.order_of(&buyer, order_id).await;
    assert_eq!(expired["cancelReason"], "expired");
    eventually("the ticket is free again", || async {
        ticket_status(&app, &ticket_id).await == ("available".to_owned(), Value::Null)
    })
    .await;
    let next = app.user().await;
    assert_eq!(app.order(&next, &ticket_id).await.status, 201);
    app.assert_settled().await;
}

#[tokio::test]
async fn events_left_in_outboxes_and_jobs_due_while_down_are_handled_after_a_restart() {
    use std::sync::Arc;

    use boxoffice_app::application::Application;
    use boxoffice_app::cli::Settings;
    use boxoffice_platform::db::sqlite::SqliteDb;
    use boxoffice_tickets::TicketsService;
    use boxoffice_tickets::domain::TicketDraft;
    use boxoffice_tickets::store::SqliteTicketStore;

    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings::for_data_dir(dir.path());
    settings.expiration_window_seconds = 1;

    // First run: a buyer orders a ticket; the process stops before the hold ends.
    let first = start(
        Application::embedded(&settings).await.expect("start"),
        None,
        None,
    );
    let seller = first.user().await;
    let buyer = first.user().await;
    let held = first.listed_ticket(&seller, "Held", 20.0).await;
    let held_id = held["id"].as_str().expect("id").to_owned();
    let order = first.order(&buyer, &held_id).await.body;
    let order_id = order["id"].as_str().expect("id").to_owned();
    eventually("the ticket is reserved", || async {
        ticket_status(&first, &held_id).await.0 == "reserved"
    })
    .await;
    let expires_at = time::OffsetDateTime::parse(
        order["expiresAt"].as_str().expect("expiresAt"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("time");
    first.stop().await;

    // While it is down: a ticket is written with its event, but no relay runs to publish
    // it — as if the process had died right after the commit.
    let seller_id = boxoffice_common::UserId(seller.id.parse().expect("uuid"));
    let unpublished = {
        let db = SqliteDb::open(&dir.path().join("tickets.db"))
            .await
            .expect("open");
        let store = SqliteTicketStore::open(db, Arc::new(tokio::sync::Notify::new()))
            .await
            .expect("store");
        let service = TicketsService::new(Arc::new(store), Arc::new(boxoffice_common::SystemClock));
        let draft = TicketDraft::parse(Some("Written while down"), Some(5.0), None).expect("draft");
        service
            .create(seller_id, draft)
            .await
            .expect("create")
            .id
            .to_string()
    };
    // And the held order's hold runs out before the process is back.
    let until_expiry = expires_at - time::OffsetDateTime::now_utc();
    tokio::time::sleep(std::time::Duration::try_from(until_expiry).unwrap_or_default()).await;

    let second = start(
        Application::embedded(&settings).await.expect("restart"),
        None,
        None,
    );
    eventually("the job that came due while down has fired", || async {
        second.order_of(&buyer, &order_id).await["status"] == "cancelled"
    })
    .await;
    assert_eq!(
        second.order_of(&buyer, &order_id).await["cancelReason"],
        "expired"
    );
    eventually("the held ticket is free again", || async {
        ticket_status(&second, &held_id).await == ("available".to_owned(), Value::Null)
    })
    .await;
    let reply = second.order(&buyer, &unpublished).await;
    assert_eq!(
        reply.status, 201,
        "the unpublished ticket reached the orders service: {}",
        reply.body
    );
    assert_eq!(reply.body["ticket"]["version"], 0, "applied once");
}

#[tokio::test]
async fn an_idempotency_key_makes_a_retried_order_the_same_order() {
    let app = spawn_app().await;
    let (seller, buyer, ticket_id) = listed(&app).await;
    let other = app.listed_ticket(&seller, "Other", 5.0).await;
    let request = |ticket: &str, key: &str| {
        app.as_user(&buyer, Method::POST, "/api/orders")
            .header("idempotency-key", key)
            .json(&json!({ "ticketId": ticket }))
    };
    let keyed = |ticket: &str, key: &str| app.send(request(ticket, key));
    // Make sure the ticket is known (404s are not remembered, so this is safe to retry).
    let first = app
        .send_until_known(|| request(&ticket_id, "order-once"))
        .await;
    assert_eq!(first.status, 201, "{}", first.body);

    let retried = keyed(&ticket_id, "order-once").await;
    assert_eq!(
        (retried.status, &retried.body),
        (201, &first.body),
        "the same order again"
    );
    let mine = app
        .send(app.as_user(&buyer, Method::GET, "/api/orders"))
        .await;
    assert_eq!(
        mine.body.as_array().map(Vec::len),
        Some(1),
        "one order, not two"
    );

    let reused = keyed(other["id"].as_str().expect("id"), "order-once").await;
    assert_eq!(
        (reused.status, reused.body),
        (
            400,
            json!({"errors": [{"message": "Idempotency key reused with a different request"}]})
        )
    );
    let without_key = app.order(&buyer, &ticket_id).await;
    assert_eq!(without_key.error_messages(), ["Ticket is already reserved"]);
    app.assert_settled().await;
}
