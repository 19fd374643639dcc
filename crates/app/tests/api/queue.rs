//! CONTRACT.md §8: the line for a held ticket — strict arrival order, exclusive turns the
//! orders service enforces, live updates over Server-Sent Events.

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{EVENTUALLY, Reply, TestApp, User, eventually, spawn_app, spawn_app_with};

pub(crate) const NEXT_IN_LINE: &str = "Ticket is reserved for the next buyer in line";
pub(crate) const UNKNOWN_ID: &str = "01a200aa-1a4b-7137-8f08-2f256ac1c1b4";

/// A listed ticket held by a fresh buyer's order: (seller, holder, ticket id, order id).
pub(crate) async fn held_ticket(app: &TestApp) -> (User, User, String, String) {
    let seller = app.user().await;
    let holder = app.user().await;
    let ticket = app.listed_ticket(&seller, "Final", 80.0).await;
    let ticket_id = ticket["id"].as_str().expect("id").to_owned();
    let order = app.order(&holder, &ticket_id).await;
    assert_eq!(order.status, 201, "{}", order.body);
    let order_id = order.body["id"].as_str().expect("id").to_owned();
    (seller, holder, ticket_id, order_id)
}

pub(crate) async fn join(app: &TestApp, user: &User, ticket_id: &str) -> Reply {
    app.send(app.as_user(user, Method::POST, &format!("/api/queue/{ticket_id}")))
        .await
}

/// Joins once the queue service has heard that the ticket is held.
pub(crate) async fn join_held(app: &TestApp, user: &User, ticket_id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + EVENTUALLY;
    loop {
        let reply = join(app, user, ticket_id).await;
        if reply.status == 202 {
            return reply.body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never joined: {} {}",
            reply.status,
            reply.body
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub(crate) async fn place(app: &TestApp, user: &User, ticket_id: &str) -> Reply {
    app.send(app.as_user(user, Method::GET, &format!("/api/queue/{ticket_id}")))
        .await
}

pub(crate) async fn leave(app: &TestApp, user: &User, ticket_id: &str) -> Reply {
    app.send(app.as_user(user, Method::DELETE, &format!("/api/queue/{ticket_id}")))
        .await
}

pub(crate) async fn cancel(app: &TestApp, user: &User, order_id: &str) {
    let reply = app
        .send(app.as_user(user, Method::DELETE, &format!("/api/orders/{order_id}")))
        .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
}

pub(crate) async fn has_turn(app: &TestApp, user: &User, ticket_id: &str) -> bool {
    let reply = place(app, user, ticket_id).await;
    reply.status == 200 && reply.body["turnExpiresAt"].is_string()
}

/// Orders as `user` until the answer is not `NEXT_IN_LINE` (the orders service has not yet
/// heard that the turn is theirs).
pub(crate) async fn order_on_turn(app: &TestApp, user: &User, ticket_id: &str) -> Reply {
    let deadline = tokio::time::Instant::now() + EVENTUALLY;
    loop {
        let reply = app.order(user, ticket_id).await;
        if reply.status != 400 || tokio::time::Instant::now() >= deadline {
            return reply;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_line_is_first_come_first_served_and_enforced_by_the_orders_service() {
    let app = spawn_app().await;
    let (_, holder, ticket_id, order_id) = held_ticket(&app).await;
    let (first, second, outsider) = (app.user().await, app.user().await, app.user().await);

    let joined = join_held(&app, &first, &ticket_id).await;
    assert_eq!(joined["position"], 1);
    assert_eq!(joined["totalInQueue"], 1);
    assert!(
        joined["estimatedWaitSeconds"].as_u64().expect("wait") > 800,
        "{joined}"
    );
    assert_eq!(joined["turnExpiresAt"], Value::Null);
    let joined = join_held(&app, &second, &ticket_id).await;
    assert_eq!(
        (joined["position"].clone(), joined["totalInQueue"].clone()),
        (2.into(), 2.into())
    );
    let again = join(&app, &first, &ticket_id).await;
    assert_eq!(
        (again.status, again.body["position"].clone()),
        (202, 1.into()),
        "joining twice keeps the first place"
    );
    let looked = place(&app, &second, &ticket_id).await;
    assert_eq!(
        (looked.status, looked.body["position"].clone()),
        (200, 2.into())
    );
    assert_eq!(
        place(&app, &outsider, &ticket_id).await.status,
        404,
        "not in line"
    );

    // While held, anyone is told it is reserved.
    let refused = app.order(&outsider, &ticket_id).await;
    assert_eq!(refused.error_messages(), ["Ticket is already reserved"]);

    // The hold lapses: only the head of the line may order.
    cancel(&app, &holder, &order_id).await;
    eventually("the first in line has the turn", || {
        has_turn(&app, &first, &ticket_id)
    })
    .await;
    for user in [&outsider, &second] {
        let refused = app.order(user, &ticket_id).await;
        assert_eq!(refused.status, 400, "{}", refused.body);
        assert_eq!(refused.error_messages(), [NEXT_IN_LINE]);
    }
    let won = order_on_turn(&app, &first, &ticket_id).await;
    assert_eq!(won.status, 201, "{}", won.body);
    let won_order = won.body["id"].as_str().expect("id").to_owned();

    // The buyer who ordered left the line; the next one moves up and waits for this hold.
    eventually("the buyer who ordered left the line", || async {
        place(&app, &first, &ticket_id).await.status == 404
    })
    .await;
    let looked = place(&app, &second, &ticket_id).await;
    assert_eq!(
        (
            looked.body["position"].clone(),
            looked.body["totalInQueue"].clone()
        ),
        (1.into(), 1.into())
    );
    assert_eq!(
        looked.body["turnExpiresAt"],
        Value::Null,
        "the ticket is held again"
    );

    // That hold lapses too: the next buyer's turn; they buy; the line is over.
    cancel(&app, &first, &won_order).await;
    eventually("the second in line has the turn", || {
        has_turn(&app, &second, &ticket_id)
    })
    .await;
    let refused = app.order(&outsider, &ticket_id).await;
    assert_eq!(refused.error_messages(), [NEXT_IN_LINE]);
    let bought = order_on_turn(&app, &second, &ticket_id).await;
    assert_eq!(bought.status, 201, "{}", bought.body);
    let paid = app
        .pay(&second, bought.body["id"].as_str().expect("id"), "tok_visa")
        .await;
    assert_eq!(paid.status, 201, "{}", paid.body);
    // Until the queue hears of the sale the ticket is merely held, and joining works.
    eventually("a sold ticket refuses new buyers in line", || async {
        let reply = join(&app, &outsider, &ticket_id).await;
        reply.status == 400 && reply.error_messages() == ["Ticket is already sold"]
    })
    .await;
    app.assert_settled().await;
}

#[tokio::test]
async fn an_unused_turn_passes_to_the_next_buyer_and_then_the_ticket_is_free_again() {
    let app = spawn_app_with(|settings| settings.queue_turn_seconds = 1).await;
    let (_, holder, ticket_id, order_id) = held_ticket(&app).await;
    let (first, second, latecomer) = (app.user().await, app.user().await, app.user().await);
    join_held(&app, &first, &ticket_id).await;
    join_held(&app, &second, &ticket_id).await;

    cancel(&app, &holder, &order_id).await;
    eventually("the first in line has the turn", || {
        has_turn(&app, &first, &ticket_id)
    })
    .await;
    eventually("the unused turn passed to the second", || {
        has_turn(&app, &second, &ticket_id)
    })
    .await;
    assert_eq!(
        place(&app, &first, &ticket_id).await.status,
        404,
        "a lapsed turn leaves the line"
    );
    let refused = app.order(&first, &ticket_id).await;
    assert_eq!(
        refused.error_messages(),
        [NEXT_IN_LINE],
        "the lapsed turn is over"
    );

    // Nobody left in line: first come, first served again.
    eventually("the ticket is orderable by anyone", || async {
        app.order(&latecomer, &ticket_id).await.status == 201
    })
    .await;
    app.assert_settled().await;
}

#[tokio::test]
async fn leaving_during_ones_turn_hands_it_on() {
    let app = spawn_app().await;
    let (_, holder, ticket_id, order_id) = held_ticket(&app).await;
    let (first, second) = (app.user().await, app.user().await);
    join_held(&app, &first, &ticket_id).await;
    join_held(&app, &second, &ticket_id).await;
    cancel(&app, &holder, &order_id).await;
    eventually("the first in line has the turn", || {
        has_turn(&app, &first, &ticket_id)
    })
    .await;

    assert_eq!(leave(&app, &first, &ticket_id).await.status, 204);
    assert_eq!(
        leave(&app, &first, &ticket_id).await.status,
        204,
        "leaving twice is fine"
    );
    eventually("the second has the turn", || {
        has_turn(&app, &second, &ticket_id)
    })
    .await;
    let bought = order_on_turn(&app, &second, &ticket_id).await;
    assert_eq!(bought.status, 201, "{}", bought.body);
    app.assert_settled().await;
}

#[tokio::test]
async fn joining_is_refused_where_a_line_makes_no_sense() {
    let app = spawn_app().await;
    let (seller, holder, held_id, _) = held_ticket(&app).await;
    let buyer = app.user().await;
    let free = app.listed_ticket(&seller, "Free", 10.0).await;
    let free_id = free["id"].as_str().expect("id");

    eventually("the queue knows the free ticket", || async {
        join(&app, &buyer, free_id).await.status == 400
    })
    .await;
    let cases = [
        (&buyer, free_id, "Ticket is available; order it directly"),
        (
            &seller,
            held_id.as_str(),
            "Cannot queue for your own ticket",
        ),
        (&holder, held_id.as_str(), "You already hold this ticket"),
    ];
    for (user, ticket, message) in cases {
        let reply = join(&app, user, ticket).await;
        assert_eq!(reply.status, 400, "{}", reply.body);
        assert_eq!(reply.error_messages(), [message]);
    }
    for path in [
        format!("/api/queue/{UNKNOWN_ID}"),
        "/api/queue/not-an-id".to_owned(),
    ] {
        let reply = app.send(app.as_user(&buyer, Method::POST, &path)).await;
        assert_eq!(
            (reply.status, reply.error_messages()),
            (404, vec!["Not found".to_owned()])
        );
    }
    let anonymous = app
        .send(app.client.post(app.url(&format!("/api/queue/{held_id}"))))
        .await;
    assert_eq!(
        (anonymous.status, anonymous.error_messages()),
        (401, vec!["Not authorized".to_owned()])
    );
    assert_eq!(place(&app, &buyer, &held_id).await.status, 404);
    assert_eq!(leave(&app, &buyer, &held_id).await.status, 204);
    app.assert_settled().await;
}
