//! CONTRACT.md §5, row by row, and the rules across services: exactly one holder,
//! expiry, restart safety.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, User, eventually, spawn_app};

pub(crate) const UNKNOWN_ID: &str = "01a200aa-1a4b-7137-8f08-2f256ac1c1b4";

pub(crate) async fn listed(app: &TestApp) -> (User, User, String) {
    let seller = app.user().await;
    let buyer = app.user().await;
    let ticket = app.listed_ticket(&seller, "Concert", 20.0).await;
    (seller, buyer, ticket["id"].as_str().expect("id").to_owned())
}

pub(crate) async fn cancel(app: &TestApp, user: &User, order_id: &str) -> crate::helpers::Reply {
    app.send(app.as_user(user, Method::DELETE, &format!("/api/orders/{order_id}")))
        .await
}

pub(crate) async fn ticket_status(app: &TestApp, id: &str) -> (String, Value) {
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
    app.assert_settled().await;
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
    app.assert_settled().await;
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
    app.assert_settled().await;
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
    app.assert_settled().await;
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
    app.assert_settled().await;
}
