//! CONTRACT.md §5, row by row, and the rules across services: exactly one holder,
//! expiry, restart safety.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, User, eventually, spawn_app, spawn_app_with, start};

const UNKNOWN_ID: &str = "01a200aa-1a4b-7137-8f08-2f256ac1c1b4";

async fn listed(app: &TestApp) -> (User, User, String) {
    let seller = app.user().await;
    let buyer = app.user().await;
    let ticket = app.listed_ticket(&seller, "Concert", 20.0).await;
    (seller, buyer, ticket["id"].as_str().expect("id").to_owned())
}

async fn cancel(app: &TestApp, user: &User, order_id: &str) -> crate::helpers::Reply {
    app.send(app.as_user(user, Method::DELETE, &format!("/api/orders/{order_id}")))
        .await
}

async fn ticket_status(app: &TestApp, id: &str) -> (String, Value) {
    let ticket = app.ticket(id).await;
    (
        ticket["status"].as_str().expect("status").to_owned(),
        ticket["orderId"].clone(),
    )
}

#[tokio::test]
async fn ordering_holds_the_ticket_until_the_window_ends() {
    let app = spawn_app().await;
    let (_, buyer, ticket_id) = listed(&app).await;

    let reply = app.order(&buyer, &ticket_id).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let order = &reply.body;
    assert_eq!(order["status"], "created");
    assert_eq!(order["userId"], buyer.id.as_str());
    assert_eq!(order["version"], 0);
    assert_eq!(order["cancelReason"], Value::Null);
    assert_eq!(
        order["ticket"],
        json!({"id": ticket_id, "title": "Concert", "price": 20.0, "version": 0})
    );
    let created = time::OffsetDateTime::parse(
        order["createdAt"].as_str().expect("createdAt"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("time");
    let expires = time::OffsetDateTime::parse(
        order["expiresAt"].as_str().expect("expiresAt"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("time");
    assert_eq!(
        expires - created,
        time::Duration::minutes(15),
        "default window"
    );

    let order_id = order["id"].clone();
    eventually("the ticket shows the order", || async {
        ticket_status(&app, &ticket_id).await == ("reserved".to_owned(), order_id.clone())
    })
    .await;
}

#[tokio::test]
async fn ordering_is_refused_with_the_contracts_messages() {
    let app = spawn_app().await;
    let (seller, buyer, ticket_id) = listed(&app).await;

    let anonymous = app.post_json("/api/orders", &json!({})).await;
    assert_eq!(
        anonymous.status, 401,
        "authentication comes before validation"
    );

    for body in [
        json!({}),
        json!({"ticketId": ""}),
        json!({"ticketId": null}),
    ] {
        let reply = app
            .send(app.as_user(&buyer, Method::POST, "/api/orders").json(&body))
            .await;
        assert_eq!(reply.status, 400, "{body}");
        assert_eq!(
            reply.body,
            json!({"errors": [{"message": "TicketId must be provided", "field": "ticketId"}]})
        );
    }
    for unknown in [UNKNOWN_ID, "garbage"] {
        let reply = app
            .send(
                app.as_user(&buyer, Method::POST, "/api/orders")
                    .json(&json!({"ticketId": unknown})),
            )
            .await;
        assert_eq!(reply.status, 404, "{unknown}");
    }

    let own = app.order(&seller, &ticket_id).await;
    assert_eq!(
        (own.status, own.body),
        (
            400,
            json!({"errors": [{"message": "Cannot buy your own ticket"}]})
        )
    );

    assert_eq!(app.order(&buyer, &ticket_id).await.status, 201);
    let someone_else = app.user().await;
    let taken = app.order(&someone_else, &ticket_id).await;
    assert_eq!(
        (taken.status, taken.body),
        (
            400,
            json!({"errors": [{"message": "Ticket is already reserved"}]})
        )
    );
    let again = app.order(&buyer, &ticket_id).await;
    assert_eq!(
        again.status, 400,
        "one live order per ticket, even for its holder"
    );
}

#[tokio::test]
async fn buyers_see_only_their_own_orders() {
    let app = spawn_app().await;
    let seller = app.user().await;
    let buyer = app.user().await;
    let stranger = app.user().await;
    let first = app.listed_ticket(&seller, "First", 10.0).await;
    let second = app.listed_ticket(&seller, "Second", 20.0).await;
    let a = app
        .order(&buyer, first["id"].as_str().expect("id"))
        .await
        .body;
    let b = app
        .order(&buyer, second["id"].as_str().expect("id"))
        .await
        .body;

    let mine = app
        .send(app.as_user(&buyer, Method::GET, "/api/orders"))
        .await;
    assert_eq!(mine.status, 200);
    assert_eq!(mine.body, json!([a, b]), "oldest first, ticket embedded");
    let theirs = app
        .send(app.as_user(&stranger, Method::GET, "/api/orders"))
        .await;
    assert_eq!(theirs.body, json!([]));
    assert_eq!(app.get("/api/orders").await.status, 401);

    let id = a["id"].as_str().expect("id");
    assert_eq!(app.order_of(&buyer, id).await, a);
    assert_eq!(
        app.send(app.as_user(&stranger, Method::GET, &format!("/api/orders/{id}")))
            .await
            .status,
        401
    );
    assert_eq!(app.get(&format!("/api/orders/{id}")).await.status, 401);
    for unknown in [UNKNOWN_ID, "garbage"] {
        let reply = app
            .send(app.as_user(&buyer, Method::GET, &format!("/api/orders/{unknown}")))
            .await;
        assert_eq!(reply.status, 404);
    }
}

#[tokio::test]
async fn cancelling_frees_the_ticket_once() {
    let app = spawn_app().await;
    let (_, buyer, ticket_id) = listed(&app).await;
    let stranger = app.user().await;
    let order = app.order(&buyer, &ticket_id).await.body;
    let order_id = order["id"].as_str().expect("id");

    assert_eq!(cancel(&app, &stranger, order_id).await.status, 401);
    assert_eq!(
        app.send(
            app.client
                .delete(app.url(&format!("/api/orders/{order_id}")))
        )
        .await
        .status,
        401
    );
    assert_eq!(cancel(&app, &buyer, UNKNOWN_ID).await.status, 404);

    let reply = cancel(&app, &buyer, order_id).await;
    assert_eq!((reply.status, reply.body), (204, Value::Null));
    let cancelled = app.order_of(&buyer, order_id).await;
    assert_eq!(
        (
            cancelled["status"].clone(),
            cancelled["cancelReason"].clone(),
            cancelled["version"].clone()
        ),
        (json!("cancelled"), json!("user"), json!(1))
    );

    let again = cancel(&app, &buyer, order_id).await;
    assert_eq!(
        (again.status, again.body),
        (
            400,
            json!({"errors": [{"message": "Order is already cancelled"}]})
        )
    );

    eventually("the ticket is free again", || async {
        ticket_status(&app, &ticket_id).await == ("available".to_owned(), Value::Null)
    })
    .await;
    let other = app.user().await;
    assert_eq!(
        app.order(&other, &ticket_id).await.status,
        201,
        "orderable again"
    );
}

#[tokio::test]
async fn fifty_buyers_racing_for_one_ticket_produce_exactly_one_order() {
    let app = spawn_app().await;
    let seller = app.user().await;
    let ticket = app.listed_ticket(&seller, "Hot", 99.0).await;
    let ticket_id = ticket["id"].as_str().expect("id").to_owned();
    let mut buyers = Vec::new();
    for _ in 0..50 {
        buyers.push(app.user().await);
    }
    // Make sure the orders service knows the ticket before the race starts.
    let probe = app.order(&seller, &ticket_id).await;
    assert_eq!(
        probe.status, 400,
        "the seller is refused, so the ticket is known"
    );

    let attempts = buyers.iter().map(|buyer| {
        app.send(
            app.as_user(buyer, Method::POST, "/api/orders")
                .json(&json!({ "ticketId": ticket_id })),
        )
    });
    let replies = futures::future::join_all(attempts).await;

    let winners: Vec<_> = replies.iter().filter(|r| r.status == 201).collect();
    assert_eq!(winners.len(), 1, "exactly one 201");
    let losers = replies.iter().filter(|r| r.status == 400).count();
    assert_eq!(losers, 49, "49 × 400");
    for loser in replies.iter().filter(|r| r.status == 400) {
        assert_eq!(loser.error_messages(), ["Ticket is already reserved"]);
    }
    let winning_order = winners[0].body["id"].clone();
    eventually("the tickets service records the winner", || async {
        ticket_status(&app, &ticket_id).await == ("reserved".to_owned(), winning_order.clone())
    })
    .await;
}

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
    let seller_id = seller.id.parse().expect("uuid");
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
}
