//! The workloads.

pub mod browse;
pub mod ceiling;
pub mod flash_sale;
pub mod line_rush;

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
