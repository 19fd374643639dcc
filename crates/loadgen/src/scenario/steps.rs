//! Steps the selling scenarios share: listing many things at once, waiting until the
//! orders service has heard of what was listed, and paying for an order.
//!
//! They live apart so that the flash sale and the basket rush set up and pay in exactly the
//! same way, and a change to one (say, how politely a payment is retried) reaches both.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::client::Client;

pub const ORDER: &str = "POST /api/orders";
pub const PAY: &str = "POST /api/payments";

/// How long a payment is retried while the payments service has not heard of the order.
const PAY_PATIENCE: Duration = Duration::from_secs(10);
/// How long set-up waits for the orders service to hear of a listed ticket.
const KNOWN_PATIENCE: Duration = Duration::from_secs(60);

/// Awaits futures concurrently, keeping their order.
pub(crate) async fn join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut outputs = Vec::with_capacity(handles.len());
    for handle in handles {
        match handle.await {
            Ok(output) => outputs.push(output),
            Err(err) => std::panic::resume_unwind(err.into_panic()),
        }
    }
    outputs
}

/// Waits until the orders service knows `ticket`, listed by `seller`.
///
/// Ticket events reach the orders service in the order they were written: once the last
/// ticket listed is known (its own seller is refused with 400 rather than 404), all are.
pub(crate) async fn until_orders_know(
    client: &Client,
    seller: &str,
    ticket: &str,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + KNOWN_PATIENCE;
    loop {
        let probe = client
            .send(
                "probe",
                Method::POST,
                "/api/orders",
                Some(seller),
                Some(&json!({ "ticketId": ticket })),
                None,
            )
            .await?;
        if probe.status != 404 {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the orders service never heard of the tickets"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Pays for an order with the test processor's `tok_visa`; `true` once the payment
/// succeeded. Every request sent is added to `requests`.
///
/// A 404 (the payments service not yet knowing the order) is retried politely, though the
/// server waits for fresh orders itself and should never answer it.
pub(crate) async fn pay(
    client: &Client,
    token: &str,
    order_id: &str,
    requests: &AtomicU64,
) -> anyhow::Result<bool> {
    let body = json!({ "orderId": order_id, "token": "tok_visa" });
    let deadline = Instant::now() + PAY_PATIENCE;
    // Back off like a polite client: a retry storm would slow the very events it waits for.
    let mut pause = Duration::from_millis(5);
    loop {
        requests.fetch_add(1, Ordering::Relaxed);
        // The order id doubles as the idempotency key: a retried payment is never a second one.
        let answer = client
            .send(
                PAY,
                Method::POST,
                "/api/payments",
                Some(token),
                Some(&body),
                Some(order_id),
            )
            .await?;
        match answer.status {
            201 if answer.body["status"] == "succeeded" => return Ok(true),
            404 if Instant::now() < deadline => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            _ => return Ok(false),
        }
    }
}
