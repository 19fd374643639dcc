//! The read mix: ticket pages and filtered listings.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use reqwest::Method;
use serde::Serialize;

use super::Limits;
use crate::client::Client;

pub const SHOW: &str = "GET /api/tickets/:id";
pub const LIST: &str = "GET /api/tickets";

/// Listing queries a browsing buyer might send.
const QUERIES: &[&str] = &[
    "/api/tickets",
    "/api/tickets?limit=20&sort=price",
    "/api/tickets?q=seat%201&limit=20",
    "/api/tickets?minPrice=30&maxPrice=60&limit=20",
    "/api/tickets?sort=-price&limit=10&page=2",
    "/api/tickets?status=all&sort=newest&limit=20",
];

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub elapsed_seconds: f64,
    pub requests: u64,
    pub requests_per_second: f64,
    pub show_per_second: f64,
    pub list_per_second: f64,
}

/// Reads for `limits.duration`: a `list_share` fraction of listings, the rest ticket pages.
pub async fn run(
    client: &Client,
    ticket_ids: Arc<Vec<String>>,
    list_share: f64,
    limits: Limits,
) -> anyhow::Result<Outcome> {
    let sent = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..limits.concurrency.max(1))
        .map(|_| {
            let client = client.clone();
            let ids = Arc::clone(&ticket_ids);
            let sent = Arc::clone(&sent);
            tokio::spawn(async move {
                let mut rng = fastrand::Rng::new();
                while started.elapsed() < limits.duration
                    && sent.fetch_add(1, Ordering::Relaxed) < limits.max_requests
                {
                    if ids.is_empty() || rng.f64() < list_share {
                        let query = QUERIES[rng.usize(..QUERIES.len())];
                        client
                            .send(LIST, Method::GET, query, None, None, None)
                            .await?;
                    } else {
                        let id = &ids[rng.usize(..ids.len())];
                        client
                            .send(
                                SHOW,
                                Method::GET,
                                &format!("/api/tickets/{id}"),
                                None,
                                None,
                                None,
                            )
                            .await?;
                    }
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for worker in workers {
        worker.await??;
    }
    let elapsed = started.elapsed().as_secs_f64().max(f64::EPSILON);
    let requests = client.recorder.requests(SHOW) + client.recorder.requests(LIST);
    Ok(Outcome {
        elapsed_seconds: elapsed,
        requests,
        requests_per_second: requests as f64 / elapsed,
        show_per_second: client.recorder.requests(SHOW) as f64 / elapsed,
        list_per_second: client.recorder.requests(LIST) as f64 / elapsed,
    })
}
