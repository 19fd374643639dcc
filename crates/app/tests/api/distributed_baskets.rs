//! Multi-ticket orders in the distributed mode: overlapping baskets sent to both orders
//! replicas at once (one PostgreSQL database decides), then a basket paid through a
//! payments replica and sold in the tickets service, and one cancelled and freed.

use std::collections::HashMap;

use reqwest::Method;
use serde_json::{Value, json};

use crate::baskets::overlapping_baskets;
use crate::distributed::cluster;
use crate::helpers::eventually;

#[tokio::test]
async fn overlapping_baskets_on_two_replicas_share_no_ticket_and_pay_and_free_whole() {
    let c = cluster(|_| {}).await;
    let seller = c.auth.user().await;
    let mut tickets = Vec::new();
    for n in 0..8 {
        let ticket = c
            .tickets
            .listed_ticket(&seller, &format!("Seat {n}"), 10.0 + f64::from(n))
            .await;
        tickets.push(ticket["id"].as_str().expect("id").to_owned());
    }
    let mut buyers = Vec::new();
    for _ in 0..6 {
        buyers.push(c.auth.user().await);
    }
    // Fresh tickets: the first basket per replica waits for its replica to hear of them.
    let baskets = overlapping_baskets(&tickets, 120);
    let attempts = baskets.iter().enumerate().map(|(i, basket)| {
        let (orders, buyer) = (&c.orders[i % 2], &buyers[i % buyers.len()]);
        async move {
            orders
                .send_until_known(|| {
                    orders
                        .as_user(buyer, Method::POST, "/api/orders")
                        .json(&json!({ "ticketIds": basket }))
                })
                .await
        }
    });
    let replies = futures::future::join_all(attempts).await;

    let mut holder: HashMap<String, String> = HashMap::new();
    let mut won = Vec::new();
    for (i, reply) in replies.iter().enumerate() {
        match reply.status {
            201 => {
                let order = reply.body["id"].as_str().expect("id").to_owned();
                for ticket in &baskets[i] {
                    let before = holder.insert(ticket.clone(), order.clone());
                    assert_eq!(before, None, "ticket {ticket} has two holders");
                }
                won.push((i, order));
            }
            400 => assert_eq!(
                reply.body["errors"][0]["field"], "ticketIds",
                "{}",
                reply.body
            ),
            other => panic!("unexpected {other}: {}", reply.body),
        }
    }
    for ticket in &tickets {
        let expected = holder.get(ticket).map_or(Value::Null, |order| json!(order));
        eventually("the tickets service follows the holds", || async {
            c.tickets.ticket(ticket).await["orderId"] == expected
        })
        .await;
    }

    // Pay one basket on a payments replica: every ticket sold, the total charged.
    let (paid_basket, paid_order) = &won[0];
    let payer = &buyers[paid_basket % buyers.len()];
    let paid = c.payments[1].pay(payer, paid_order, "tok_visa").await;
    assert_eq!(paid.status, 201, "{}", paid.body);
    assert_eq!(paid.body["status"], "succeeded");
    for ticket in &baskets[*paid_basket] {
        eventually("the paid basket is sold", || async {
            c.tickets.ticket(ticket).await["status"] == "sold"
        })
        .await;
    }
    // Cancel another on the other orders replica: every ticket free again.
    if let Some((cancelled_basket, cancelled_order)) = won.get(1) {
        let owner = &buyers[cancelled_basket % buyers.len()];
        let path = format!("/api/orders/{cancelled_order}");
        let reply = c.orders[0]
            .send(c.orders[0].as_user(owner, Method::DELETE, &path))
            .await;
        assert_eq!(reply.status, 204, "{}", reply.body);
        for ticket in &baskets[*cancelled_basket] {
            eventually("the cancelled basket is free", || async {
                c.tickets.ticket(ticket).await["status"] == "available"
            })
            .await;
        }
    }
}
