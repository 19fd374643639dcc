//! CONTRACT.md §11, multi-ticket orders: a basket is held whole or not at all, every
//! service acts on all of its tickets (reservation, expiry, cancellation, payment), its
//! refusals name `ticketIds`, and overlapping baskets racing never share or split a ticket.

use std::collections::{HashMap, HashSet};

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Reply, TestApp, User, eventually, spawn_app, spawn_app_with};
use crate::orders::{UNKNOWN_ID, cancel, ticket_status};

/// Runs each named `async fn(&TestApp)` against a fresh embedded application, then checks
/// that every event flowed. (Baskets across replicas: `distributed_baskets.rs`.)
macro_rules! embedded {
    ($($name:ident),* $(,)?) => {
        mod embedded {$(
            #[tokio::test]
            async fn $name() {
                let app = super::spawn_app().await;
                super::$name(&app).await;
                app.assert_settled().await;
            }
        )*}
    };
}

embedded!(
    two_tickets_bought_in_one_order,
    a_basket_is_all_or_nothing,
    a_baskets_refusal_is_its_first_tickets_and_names_the_field,
    overlapping_baskets_racing_never_share_or_split_a_ticket,
);

/// `count` tickets listed by one seller, priced 10, 20, 30…; their ids.
async fn listed(app: &TestApp, seller: &User, count: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(count);
    for n in 1..=count {
        let ticket = app
            .listed_ticket(seller, &format!("Seat {n}"), 10.0 * n as f64)
            .await;
        ids.push(ticket["id"].as_str().expect("id").to_owned());
    }
    ids
}

/// `count` baskets of 2 to 4 of `tickets`, each overlapping many others; half ask in the
/// reverse order of the rest (the order that deadlocks row-by-row locking).
pub(crate) fn overlapping_baskets(tickets: &[String], count: usize) -> Vec<Vec<String>> {
    (0..count)
        .map(|i| {
            let mut basket: Vec<String> = (0..2 + i % 3)
                .map(|k| tickets[(i * 5 + k * 7) % tickets.len()].clone())
                .collect();
            if i % 2 == 1 {
                basket.reverse();
            }
            basket
        })
        .collect()
}

/// Orders `tickets` as one basket, once the orders service knows them.
async fn order_basket(app: &TestApp, buyer: &User, tickets: &[&str]) -> Reply {
    app.send_until_known(|| {
        app.as_user(buyer, Method::POST, "/api/orders")
            .json(&json!({ "ticketIds": tickets }))
    })
    .await
}

/// Waits until every ticket has `status`, held by `order` (`Value::Null` for none).
async fn settle_tickets(app: &TestApp, tickets: &[&str], status: &str, order: &Value) {
    for ticket in tickets {
        eventually(&format!("ticket {ticket} {status}"), || async {
            ticket_status(app, ticket).await == (status.to_owned(), order.clone())
        })
        .await;
    }
}

async fn two_tickets_bought_in_one_order(app: &TestApp) {
    let (seller, buyer) = (app.user().await, app.user().await);
    let tickets = listed(app, &seller, 2).await;
    let (a, b) = (tickets[0].as_str(), tickets[1].as_str());

    let reply = order_basket(app, &buyer, &[b, a]).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let order = reply.body;
    let ids: Vec<&str> = order["tickets"]
        .as_array()
        .expect("tickets")
        .iter()
        .map(|t| t["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, vec![b, a], "in the order asked");
    assert_eq!(
        order["ticket"], order["tickets"][0],
        "`ticket` is the first"
    );
    assert_eq!(order["tickets"][0]["price"], 20.0);
    assert_eq!(order["total"], 30.0);
    assert_eq!(order["status"], "created");
    settle_tickets(app, &[a, b], "reserved", &order["id"]).await;

    let order_id = order["id"].as_str().expect("id");
    let listed = app
        .send(app.as_user(&buyer, Method::GET, "/api/orders"))
        .await;
    assert_eq!(listed.body[0]["tickets"], order["tickets"]);

    let paid = app.pay(&buyer, order_id, "tok_visa").await;
    assert_eq!(paid.status, 201, "{}", paid.body);
    assert_eq!(paid.body["status"], "succeeded");
    eventually("the order completes", || async {
        app.order_of(&buyer, order_id).await["status"] == "complete"
    })
    .await;
    settle_tickets(app, &[a, b], "sold", &order["id"]).await;
}

async fn a_basket_is_all_or_nothing(app: &TestApp) {
    let (seller, first, second) = (app.user().await, app.user().await, app.user().await);
    let tickets = listed(app, &seller, 3).await;
    let (a, b, c) = (
        tickets[0].as_str(),
        tickets[1].as_str(),
        tickets[2].as_str(),
    );

    let held = order_basket(app, &first, &[a, b]).await;
    assert_eq!(held.status, 201, "{}", held.body);
    let refused = order_basket(app, &second, &[c, b]).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(
        refused.body["errors"],
        json!([{"message": "Ticket is already reserved", "field": "ticketIds"}])
    );
    let alone = app.order(&second, c).await;
    assert_eq!(alone.status, 201, "c was never held by the refused basket");

    let first_order = held.body["id"].as_str().expect("id");
    assert_eq!(cancel(app, &first, first_order).await.status, 204);
    settle_tickets(app, &[a, b], "available", &Value::Null).await;
    let again = order_basket(app, &second, &[b, a]).await;
    assert_eq!(again.status, 201, "both free after the cancellation");
    let orders = app
        .send(app.as_user(&second, Method::GET, "/api/orders"))
        .await;
    assert_eq!(orders.body.as_array().map(Vec::len), Some(2));
}

async fn a_baskets_refusal_is_its_first_tickets_and_names_the_field(app: &TestApp) {
    let (seller, buyer, other) = (app.user().await, app.user().await, app.user().await);
    let theirs = listed(app, &seller, 2).await;
    let mine = listed(app, &buyer, 1).await;
    let (free, held, own) = (theirs[0].as_str(), theirs[1].as_str(), mine[0].as_str());
    assert_eq!(app.order(&other, held).await.status, 201);

    let error = |reply: &Reply| (reply.status, reply.body["errors"].clone());
    let field = |status: u16, message: &str| {
        (
            status,
            json!([{ "message": message, "field": "ticketIds" }]),
        )
    };
    let reply = order_basket(app, &buyer, &[free, held, own]).await;
    assert_eq!(error(&reply), field(400, "Ticket is already reserved"));
    let reply = order_basket(app, &buyer, &[own, held]).await;
    assert_eq!(error(&reply), field(400, "Cannot buy your own ticket"));
    // Every ticket here is known by now, so a 404 is answered at once.
    let at_once = |tickets: Vec<&str>| {
        app.send(
            app.as_user(&buyer, Method::POST, "/api/orders")
                .json(&json!({ "ticketIds": tickets })),
        )
    };
    let reply = at_once(vec![free, UNKNOWN_ID, held]).await;
    assert_eq!(error(&reply), field(404, "Not found"));
    let reply = at_once(vec![free, "not-an-id"]).await;
    assert_eq!(error(&reply), field(404, "Not found"));
    assert_eq!(
        ticket_status(app, free).await.0,
        "available",
        "no refused basket held its free ticket"
    );

    let shape = "TicketIds must be a list of 1 to 10 ticket ids";
    let eleven: Vec<String> = (0..11).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    for (body, message) in [
        (json!({"ticketIds": []}), shape),
        (json!({ "ticketIds": eleven }), shape),
        (json!({"ticketIds": [free, 7]}), shape),
        (json!({"ticketIds": free}), shape),
        (
            json!({"ticketIds": [free, free]}),
            "TicketIds must not repeat a ticket",
        ),
        (
            json!({"ticketIds": [free], "ticketId": free}),
            "Send either ticketId or ticketIds, not both",
        ),
    ] {
        let reply = app
            .send(app.as_user(&buyer, Method::POST, "/api/orders").json(&body))
            .await;
        assert_eq!(error(&reply), field(400, message), "{body}");
    }
    let anonymous = app
        .post_json("/api/orders", &json!({"ticketIds": []}))
        .await;
    assert_eq!(anonymous.status, 401, "authentication comes first");
}

async fn overlapping_baskets_racing_never_share_or_split_a_ticket(app: &TestApp) {
    let seller = app.user().await;
    let tickets = listed(app, &seller, 12).await;
    let mut buyers = Vec::new();
    for _ in 0..10 {
        buyers.push(app.user().await);
    }
    let baskets = overlapping_baskets(&tickets, 200);
    let attempts = baskets.iter().enumerate().map(|(i, basket)| {
        let buyer = &buyers[i % buyers.len()];
        async move {
            app.send(
                app.as_user(buyer, Method::POST, "/api/orders")
                    .json(&json!({ "ticketIds": basket })),
            )
            .await
        }
    });
    let replies = futures::future::join_all(attempts).await;

    let mut holder: HashMap<String, String> = HashMap::new();
    for (reply, basket) in replies.iter().zip(&baskets) {
        match reply.status {
            201 => {
                let order = reply.body["id"].as_str().expect("id").to_owned();
                let got: Vec<&str> = reply.body["tickets"]
                    .as_array()
                    .expect("tickets")
                    .iter()
                    .map(|t| t["id"].as_str().expect("id"))
                    .collect();
                assert_eq!(got, *basket, "a winner holds every ticket it asked for");
                for ticket in basket {
                    let before = holder.insert(ticket.clone(), order.clone());
                    assert_eq!(before, None, "ticket {ticket} has two holders");
                }
            }
            400 => assert_eq!(
                reply.body["errors"][0]["message"], "Ticket is already reserved",
                "{}",
                reply.body
            ),
            other => panic!("unexpected {other}: {}", reply.body),
        }
    }
    assert!(!holder.is_empty());
    let mut reserved = HashSet::new();
    for ticket in &tickets {
        let expected = match holder.get(ticket) {
            Some(order) => ("reserved", json!(order)),
            None => ("available", Value::Null),
        };
        settle_tickets(app, &[ticket], expected.0, &expected.1).await;
        if expected.0 == "reserved" {
            reserved.insert(ticket.clone());
        }
    }
    assert_eq!(reserved.len(), holder.len());
}

#[tokio::test]
async fn an_expired_basket_frees_every_ticket() {
    let app = &spawn_app_with(|settings| settings.expiration_window_seconds = 1).await;
    let (seller, buyer) = (app.user().await, app.user().await);
    let tickets = listed(app, &seller, 3).await;
    let asked: Vec<&str> = tickets.iter().map(String::as_str).collect();
    let reply = order_basket(app, &buyer, &asked).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let order_id = reply.body["id"].as_str().expect("id");
    eventually("the basket expires", || async {
        app.order_of(&buyer, order_id).await["cancelReason"] == "expired"
    })
    .await;
    settle_tickets(app, &asked, "available", &Value::Null).await;
    let refused = app.pay(&buyer, order_id, "tok_visa").await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    app.assert_settled().await;
}
