//! The worker that fires due jobs.
//!
//! It sleeps until the earliest job is due or a new job arrives (whichever comes first),
//! fires everything due in batches, and goes back to sleep. Jobs that came due while the
//! process was down are simply due at start-up and fire at once.

use std::sync::Arc;
use std::time::Duration;

use boxoffice_common::Clock;
use boxoffice_common::events::ExpirationComplete;
use boxoffice_platform::bus::Envelope;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::SOURCE;
use crate::store::JobStore;

/// Jobs fired per transaction.
const BATCH: u32 = 256;
/// Longest sleep without looking: covers a job scheduled by another replica.
const MAX_SLEEP: Duration = Duration::from_secs(5);
const ERROR_PAUSE: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct Scheduler {
    store: Arc<dyn JobStore>,
    clock: Arc<dyn Clock>,
    /// Notified when a job is scheduled, so an earlier due time is noticed at once.
    scheduled: Arc<Notify>,
}

impl Scheduler {
    pub fn new(store: Arc<dyn JobStore>, clock: Arc<dyn Clock>, scheduled: Arc<Notify>) -> Self {
        Self {
            store,
            clock,
            scheduled,
        }
    }

    /// Fires due jobs until `stop` is cancelled. A failed round is logged and tried
    /// again after a pause, so this returns only when stopped.
    pub async fn run(self, stop: CancellationToken) -> anyhow::Result<()> {
        loop {
            let pause = match self.fire_and_plan().await {
                Ok(pause) => pause,
                Err(err) => {
                    tracing::warn!(
                        error = format!("{err:#}"),
                        "expiration worker failed; retrying"
                    );
                    ERROR_PAUSE
                }
            };
            if pause.is_zero() && !stop.is_cancelled() {
                continue;
            }
            tokio::select! {
                () = stop.cancelled() => return Ok(()),
                () = self.scheduled.notified() => {},
                () = tokio::time::sleep(pause) => {},
            }
        }
    }

    /// Fires one batch; returns how long to sleep before looking again.
    async fn fire_and_plan(&self) -> anyhow::Result<Duration> {
        let now = self.clock.now();
        let event_for =
            move |order_id| Envelope::new(SOURCE, now, &ExpirationComplete { order_id });
        let fired = self.store.fire_due(now, BATCH, &event_for).await?;
        if !fired.is_empty() {
            boxoffice_platform::metrics::counter!(
                boxoffice_platform::telemetry::names::EXPIRATION_FIRED
            )
            .increment(fired.len() as u64);
            tracing::debug!(count = fired.len(), "expiration jobs fired");
        }
        if fired.len() == BATCH as usize {
            return Ok(Duration::ZERO);
        }
        Ok(match self.store.next_due().await? {
            Some(due) => {
                let wait = (due - self.clock.now()).max(time::Duration::ZERO);
                // Round up so we wake just after the due time, not just before it.
                Duration::try_from(wait)
                    .unwrap_or_default()
                    .saturating_add(Duration::from_millis(1))
                    .min(MAX_SLEEP)
            }
            None => MAX_SLEEP,
        })
    }
}
