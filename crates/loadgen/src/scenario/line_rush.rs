//! The line rush: many buyers join the lines of a few held tickets at once.
//!
//! Untimed set-up: `tickets` tickets are listed and each is ordered by a holder of its
//! own, so every one is held; `buyers` buyer sessions are prepared. Then every buyer is
//! released and joins the line of ticket `i % tickets`. Each `202` names a place; strict
//! arrival order means that, per ticket, the places handed out are exactly 1..n — the
//! check at the end counts every place that is missing or given twice.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde::Serialize;
use serde_json::json;

use super::flash_sale::{self, FlashSale};
use super::{Limits, run_workers};
use crate::client::{Client, Minter};

pub const JOIN: &str = "POST /api/queue/:ticketId";

#[derive(Debug, Clone)]
pub struct LineRush {
    pub tickets: usize,
    pub buyers: usize,
    pub limits: Limits,
}

/// What the timed part achieved.
#[derive(Debug, Clone, Serialize)]
pub struct RushOutcome {
    pub elapsed_seconds: f64,
    pub joins: u64,
    pub joins_per_second: f64,
    /// Joins answered with anything but 202.
    pub refused: u64,
    /// Places missing or handed out twice, over all lines (0 when the order is strict).
    pub place_errors: u64,
    pub longest_line: u64,
}

/// Lists and holds the tickets; waits until the queue service knows they are held.
pub async fn set_up(
    client: &Client,
    minter: &Minter,
    config: &LineRush,
) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let listing = FlashSale {
        sellers: 1,
        tickets: config.tickets,
        buyers: config.buyers,
        hot: None,
        limits: config.limits,
    };
    let (tickets, buyers) = flash_sale::set_up(client, minter, &listing).await?;
    for ticket in &tickets {
        let (_, holder) = minter.session()?;
        let body = json!({ "ticketId": ticket });
        let held = client
            .send(
                flash_sale::ORDER,
                Method::POST,
                "/api/orders",
                Some(&holder),
                Some(&body),
                None,
            )
            .await?;
        anyhow::ensure!(
            held.status == 201,
            "holding a ticket answered {}",
            held.status
        );
    }
    // Order events reach the queue service in order: once it knows the last ticket is
    // held (a probe buyer may join its line), it knows them all.
    let (_, probe) = minter.session()?;
    if let Some(last) = tickets.last() {
        let path = format!("/api/queue/{last}");
        let deadline = Instant::now() + Duration::from_secs(60);
        while client
            .send("probe", Method::POST, &path, Some(&probe), None, None)
            .await?
            .status
            != 202
        {
            anyhow::ensure!(
                Instant::now() < deadline,
                "the queue service never heard of the holds"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        client
            .send("probe", Method::DELETE, &path, Some(&probe), None, None)
            .await?;
    }
    Ok((tickets, buyers))
}

struct Shared {
    client: Client,
    tickets: Vec<String>,
    buyers: Vec<String>,
    next_buyer: AtomicUsize,
    /// The places handed out, per ticket.
    places: Vec<std::sync::Mutex<Vec<u64>>>,
    started: Instant,
    limits: Limits,
}

/// Releases every buyer at once and checks the places they got.
pub async fn run(
    client: &Client,
    tickets: Vec<String>,
    buyers: Vec<String>,
    config: &LineRush,
) -> anyhow::Result<RushOutcome> {
    let shared = Arc::new(Shared {
        client: client.clone(),
        places: tickets.iter().map(|_| Default::default()).collect(),
        tickets,
        buyers,
        next_buyer: AtomicUsize::new(0),
        started: Instant::now(),
        limits: config.limits,
    });
    run_workers(config.limits.concurrency, &shared, worker).await?;
    let elapsed = shared.started.elapsed().as_secs_f64();
    let joins = shared.client.recorder.requests(JOIN);
    let accepted = shared.client.recorder.count(JOIN, 202);
    let mut place_errors = 0;
    let mut longest_line = 0;
    for places in &shared.places {
        let places = places.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        longest_line = longest_line.max(places.len() as u64);
        place_errors += misplaced(&places);
    }
    Ok(RushOutcome {
        elapsed_seconds: elapsed,
        joins,
        joins_per_second: joins as f64 / elapsed.max(f64::EPSILON),
        refused: joins - accepted,
        place_errors,
        longest_line,
    })
}

/// How many of the places handed out in one line break "exactly 1..n": each place given
/// twice, or given while a lower one never was, counts once.
fn misplaced(places: &[u64]) -> u64 {
    let mut sorted = places.to_vec();
    sorted.sort_unstable();
    sorted
        .iter()
        .zip(1u64..)
        .filter(|(place, expected)| **place != *expected)
        .count() as u64
}

async fn worker(shared: Arc<Shared>) -> anyhow::Result<()> {
    loop {
        let i = shared.next_buyer.fetch_add(1, Ordering::Relaxed);
        if i >= shared.buyers.len()
            || shared.started.elapsed() >= shared.limits.duration
            || i as u64 >= shared.limits.max_requests
        {
            return Ok(());
        }
        let ticket = i % shared.tickets.len().max(1);
        let path = format!("/api/queue/{}", shared.tickets[ticket]);
        let answer = shared
            .client
            .send(
                JOIN,
                Method::POST,
                &path,
                Some(&shared.buyers[i]),
                None,
                None,
            )
            .await?;
        if answer.status == 202
            && let Some(place) = answer.body["position"].as_u64()
        {
            shared.places[ticket]
                .lock()
                .map_err(|_| anyhow::anyhow!("poisoned"))?
                .push(place);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::misplaced;

    #[test]
    fn places_must_be_exactly_one_to_n() {
        assert_eq!(misplaced(&[3, 1, 2]), 0);
        assert_eq!(misplaced(&[]), 0);
        assert_eq!(
            misplaced(&[1, 1, 2]),
            2,
            "a place given twice shifts the rest"
        );
        assert_eq!(misplaced(&[1, 3]), 1, "a place skipped");
        assert_eq!(misplaced(&[2]), 1);
    }
}
