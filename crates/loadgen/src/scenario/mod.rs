//! The workloads.
//!
//! One file per scenario; [`steps`] holds what the selling scenarios share (listing at
//! once, waiting for the orders service, paying) and [`seat_map`] what the basket rush's
//! buyers see.

pub mod basket;
pub mod browse;
pub mod ceiling;
pub mod flash_sale;
pub mod line_rush;
pub mod room;
pub mod seat_map;
pub mod steps;

use std::time::Duration;

/// Bounds every scenario obeys, so it always stops by itself.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Longest the timed part may run.
    pub duration: Duration,
    /// Most requests the timed part may send.
    pub max_requests: u64,
}

/// Runs `concurrency` copies of `worker` on the shared state and waits for all of them;
/// the first error (or panic) ends the scenario.
pub(crate) async fn run_workers<S, F, Fut>(
    concurrency: usize,
    shared: &std::sync::Arc<S>,
    worker: F,
) -> anyhow::Result<()>
where
    S: Send + Sync + 'static,
    F: Fn(std::sync::Arc<S>) -> Fut,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|_| tokio::spawn(worker(std::sync::Arc::clone(shared))))
        .collect();
    for handle in workers {
        handle.await??;
    }
    Ok(())
}
