//! The background task that finishes refunds left half-way.
//!
//! A refund is marked `refunding` before the provider is asked; if that call fails (the
//! provider is down, the network drops) or the process stops in between, nothing else would
//! ever ask again — the order events that caused it have been handled. This task looks at
//! start and then periodically, so returning money never depends on luck.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::PaymentsService;

/// Refunds retried per look.
const BATCH: u32 = 100;

#[derive(Debug, Clone)]
pub struct RefundRetrier {
    service: PaymentsService,
    every: Duration,
}

impl RefundRetrier {
    pub fn new(service: PaymentsService, every: Duration) -> Self {
        Self { service, every }
    }

    /// Retries stuck refunds now and every `every`, until `stop`.
    pub async fn run(self, stop: CancellationToken) {
        loop {
            match self.service.retry_refunds(BATCH).await {
                Ok(0) => {}
                Ok(settled) => tracing::info!(settled, "stuck refunds settled"),
                Err(err) => {
                    tracing::warn!(
                        error = format!("{err:#}"),
                        "looking for stuck refunds failed"
                    );
                }
            }
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(self.every) => {},
            }
        }
    }
}
