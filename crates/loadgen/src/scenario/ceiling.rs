//! The same client against the hello-world server: what this machine can do at all.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use reqwest::Method;
use serde::Serialize;

use super::Limits;
use crate::client::Client;

pub const HELLO: &str = "GET / (hello world)";

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub elapsed_seconds: f64,
    pub requests: u64,
    pub requests_per_second: f64,
}

pub async fn run(client: &Client, limits: Limits) -> anyhow::Result<Outcome> {
    let sent = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..limits.concurrency.max(1))
        .map(|_| {
            let client = client.clone();
            let sent = Arc::clone(&sent);
            tokio::spawn(async move {
                while started.elapsed() < limits.duration
                    && sent.fetch_add(1, Ordering::Relaxed) < limits.max_requests
                {
                    client
                        .send(HELLO, Method::GET, "/", None, None, None)
                        .await?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for worker in workers {
        worker.await??;
    }
    let elapsed = started.elapsed().as_secs_f64().max(f64::EPSILON);
    let requests = client.recorder.requests(HELLO);
    Ok(Outcome {
        elapsed_seconds: elapsed,
        requests,
        requests_per_second: requests as f64 / elapsed,
    })
}
