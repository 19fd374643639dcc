//! The flash sale: many buyers released at once on few tickets.
//!
//! Untimed set-up: `sellers` sellers list `tickets` tickets, and `buyers` buyer sessions
//! are prepared. Then every buyer is released: each tries to order a ticket (from a hot
//! subset or any, at random) until it holds one or everything is gone, and pays for it with
//! the test processor's `tok_visa`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use reqwest::Method;
use serde::Serialize;
use serde_json::json;

use super::steps::{join_all, pay, until_orders_know};
use super::{Limits, run_workers};
use crate::client::{Client, Minter};

pub use super::steps::{ORDER, PAY};
pub const LIST: &str = "POST /api/tickets";
/// The buyer's wait from the order's `201` to the payment's `201 succeeded`.
pub const ORDER_TO_PAID: &str = "order placed → payment succeeded";

/// Orders one buyer tries before giving up.
const ATTEMPTS_PER_BUYER: u32 = 50;

#[derive(Debug, Clone)]
pub struct FlashSale {
    pub sellers: usize,
    pub tickets: usize,
    pub buyers: usize,
    /// Buyers pick among the first `hot` tickets; `None`: among all.
    pub hot: Option<usize>,
    pub limits: Limits,
}

/// What the timed part achieved.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub elapsed_seconds: f64,
    pub order_attempts: u64,
    pub orders_placed: u64,
    pub payments_succeeded: u64,
    pub attempts_per_second: f64,
    pub orders_per_second: f64,
    pub buyers_released: u64,
    pub stopped_because: String,
}

struct Shared {
    client: Client,
    tickets: Vec<String>,
    buyers: Vec<String>,
    next_buyer: AtomicUsize,
    placed: AtomicU64,
    paid: AtomicU64,
    requests: AtomicU64,
    stop: AtomicBool,
    hot: usize,
    config: FlashSale,
    started: Instant,
}

impl Shared {
    fn should_stop(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
            || self.started.elapsed() >= self.config.limits.duration
            || self.requests.load(Ordering::Relaxed) >= self.config.limits.max_requests
            || self.placed.load(Ordering::Relaxed) >= self.hot as u64
    }
}

/// Lists the tickets and waits until the orders service knows all of them.
pub async fn set_up(
    client: &Client,
    minter: &Minter,
    config: &FlashSale,
) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let sellers: Vec<(String, String)> = (0..config.sellers.max(1))
        .map(|_| minter.session())
        .collect::<Result<_, _>>()?;
    let mut tickets = Vec::with_capacity(config.tickets);
    let chunks: Vec<Vec<usize>> = (0..config.tickets)
        .collect::<Vec<_>>()
        .chunks(64)
        .map(<[usize]>::to_vec)
        .collect();
    for chunk in chunks {
        let created = join_all(chunk.into_iter().map(|i| {
            let (_, token) = &sellers[i % sellers.len()];
            let body = json!({ "title": format!("Flash sale seat {i}"), "price": 25 + (i % 50) });
            let client = client.clone();
            let token = token.clone();
            async move {
                client
                    .send(
                        LIST,
                        Method::POST,
                        "/api/tickets",
                        Some(&token),
                        Some(&body),
                        None,
                    )
                    .await
            }
        }))
        .await;
        for answer in created {
            let answer = answer?;
            anyhow::ensure!(
                answer.status == 201,
                "listing a ticket answered {}",
                answer.status
            );
            tickets.push(answer.body["id"].as_str().unwrap_or_default().to_owned());
        }
    }
    let last_seller = sellers.get(tickets.len().saturating_sub(1) % sellers.len());
    if let (Some(last), Some((_, seller))) = (tickets.last(), last_seller) {
        until_orders_know(client, seller, last).await?;
    }
    let buyers = (0..config.buyers)
        .map(|_| minter.session().map(|(_, token)| token))
        .collect::<Result<_, _>>()?;
    Ok((tickets, buyers))
}

/// Releases every buyer at once and returns what happened.
pub async fn run(
    client: &Client,
    tickets: Vec<String>,
    buyers: Vec<String>,
    config: &FlashSale,
) -> anyhow::Result<Outcome> {
    let hot = config
        .hot
        .unwrap_or(tickets.len())
        .clamp(1, tickets.len().max(1));
    let shared = Arc::new(Shared {
        client: client.clone(),
        tickets,
        buyers,
        next_buyer: AtomicUsize::new(0),
        placed: AtomicU64::new(0),
        paid: AtomicU64::new(0),
        requests: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        hot,
        config: config.clone(),
        started: Instant::now(),
    });
    run_workers(config.limits.concurrency, &shared, worker).await?;
    let elapsed = shared.started.elapsed().as_secs_f64();
    let attempts = shared.client.recorder.requests(ORDER);
    let placed = shared.placed.load(Ordering::Relaxed);
    let released = shared
        .next_buyer
        .load(Ordering::Relaxed)
        .min(shared.buyers.len()) as u64;
    let stopped_because = if placed >= shared.hot as u64 {
        "every ticket on offer was sold".to_owned()
    } else if shared.started.elapsed() >= config.limits.duration {
        "duration bound reached".to_owned()
    } else if shared.requests.load(Ordering::Relaxed) >= config.limits.max_requests {
        "request bound reached".to_owned()
    } else {
        "every buyer had a turn".to_owned()
    };
    Ok(Outcome {
        elapsed_seconds: elapsed,
        order_attempts: attempts,
        orders_placed: placed,
        payments_succeeded: shared.paid.load(Ordering::Relaxed),
        attempts_per_second: attempts as f64 / elapsed.max(f64::EPSILON),
        orders_per_second: placed as f64 / elapsed.max(f64::EPSILON),
        buyers_released: released,
        stopped_because,
    })
}

async fn worker(shared: Arc<Shared>) -> anyhow::Result<()> {
    let mut rng = fastrand::Rng::new();
    loop {
        if shared.should_stop() {
            return Ok(());
        }
        let index = shared.next_buyer.fetch_add(1, Ordering::Relaxed);
        let Some(buyer) = shared.buyers.get(index) else {
            return Ok(());
        };
        buy(&shared, buyer, &mut rng).await?;
    }
}

/// One buyer: order until a ticket is held or nothing is left, then pay.
async fn buy(shared: &Shared, token: &str, rng: &mut fastrand::Rng) -> anyhow::Result<()> {
    for _ in 0..ATTEMPTS_PER_BUYER {
        if shared.should_stop() {
            return Ok(());
        }
        let ticket = &shared.tickets[rng.usize(..shared.hot)];
        shared.requests.fetch_add(1, Ordering::Relaxed);
        let answer = shared
            .client
            .send(
                ORDER,
                Method::POST,
                "/api/orders",
                Some(token),
                Some(&json!({ "ticketId": ticket })),
                None,
            )
            .await?;
        if answer.status != 201 {
            continue;
        }
        shared.placed.fetch_add(1, Ordering::Relaxed);
        let order_id = answer.body["id"].as_str().unwrap_or_default().to_owned();
        let placed = Instant::now();
        if pay(&shared.client, token, &order_id, &shared.requests).await? {
            shared.paid.fetch_add(1, Ordering::Relaxed);
            let recorder = &shared.client.recorder;
            recorder.record_span(ORDER_TO_PAID, placed.elapsed());
        }
        return Ok(());
    }
    Ok(())
}
