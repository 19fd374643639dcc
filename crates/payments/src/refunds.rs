//! The background task that finishes refunds left half-way.
//!
//! A refund is marked `refunding` before the provider is asked; if that call fails (the
//! provider is down, the network drops) or the process stops in between, nothing else would
//! ever ask again — the order events that caused it have been handled. This task looks at
//! start and then periodically, so returning money never depends on luck. It runs under
//! the process's supervisor (registered by [`crate::parts`]), so if it ever died `/readyz`
//! would say so.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::PaymentsService;

/// How often refunds left half-way are tried again (also once at start).
pub const RETRY_EVERY: Duration = Duration::from_secs(60);

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

    /// Retries stuck refunds now and every `every`, until `stop`. A failed look is logged
    /// and tried again next time, so the task only ends when told to.
    pub async fn run(self, stop: CancellationToken) -> anyhow::Result<()> {
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
                () = stop.cancelled() => return Ok(()),
                () = tokio::time::sleep(self.every) => {},
            }
        }
    }
}
