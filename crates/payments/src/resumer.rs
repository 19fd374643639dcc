//! The background task that finishes payment steps left half-way.
//!
//! A capture, void or refund is recorded (`capturing`, `voiding`, `refunding`) before the
//! provider is asked; if that call fails (the provider is down, the network drops) or the
//! process stops in between, nothing else would ever ask again — the events that caused
//! it have been handled. Likewise an authorization whose decision never came. This task
//! looks at start and then periodically ([`crate::service::PaymentsService::resume`]), so
//! moving money never depends on luck. It runs under the process's supervisor
//! (registered by [`crate::parts`]), so if it ever died `/readyz` would say so.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::PaymentsService;
use crate::service::ASK_AGAIN_AFTER;

/// How often unfinished steps are tried again (also once at start).
pub const RESUME_EVERY: Duration = Duration::from_secs(60);

/// Payments looked at per pass.
const BATCH: u32 = 100;

#[derive(Debug, Clone)]
pub struct Resumer {
    service: PaymentsService,
    every: Duration,
}

impl Resumer {
    pub fn new(service: PaymentsService, every: Duration) -> Self {
        Self { service, every }
    }

    /// Finishes unfinished steps now and every `every`, until `stop`. A failed pass is
    /// logged and tried again next time, so the task only ends when told to.
    pub async fn run(self, stop: CancellationToken) -> anyhow::Result<()> {
        loop {
            match self.service.resume(BATCH, ASK_AGAIN_AFTER).await {
                Ok(0) => {}
                Ok(moved) => tracing::info!(moved, "unfinished payments moved on"),
                Err(err) => {
                    tracing::warn!(
                        error = format!("{err:#}"),
                        "looking for unfinished payments failed"
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
