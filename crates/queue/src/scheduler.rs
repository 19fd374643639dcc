//! The timer that ends turns nobody used: it sleeps until the earliest turn ends (or a
//! change leaves a turn running), passes each ended turn to the next buyer in line, and
//! sleeps again. With several replicas every one runs it — a turn started by another
//! replica is seen within `MAX_SLEEP` — and the store's atomic change makes sure a turn is
//! handed on once.

use std::sync::Arc;
use std::time::Duration;

use boxoffice_common::TicketId;
use boxoffice_platform::metrics;
use boxoffice_platform::store::Modified;
use boxoffice_platform::telemetry::names::QUEUE_TURNS;
use tokio_util::sync::CancellationToken;

use crate::service::QueueService;

/// Tickets handled per look.
const BATCH: u32 = 256;
/// Longest sleep without looking: covers a turn started by another replica.
const MAX_SLEEP: Duration = Duration::from_secs(1);
const ERROR_PAUSE: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct TurnTimer {
    service: QueueService,
}

impl TurnTimer {
    pub fn new(service: QueueService) -> Self {
        Self { service }
    }

    /// Ends turns until `stop` is cancelled. A failed round is logged and tried again
    /// after a pause, so this returns only when stopped.
    pub async fn run(self, stop: CancellationToken) -> anyhow::Result<()> {
        let turn_running = Arc::clone(self.service.turn_running());
        loop {
            let pause = match self.end_turns_and_plan().await {
                Ok(pause) => pause,
                Err(err) => {
                    tracing::warn!(
                        error = format!("{err:#}"),
                        "queue turn timer failed; retrying"
                    );
                    ERROR_PAUSE
                }
            };
            if pause.is_zero() && !stop.is_cancelled() {
                continue;
            }
            tokio::select! {
                () = stop.cancelled() => return Ok(()),
                // A turn may have started that ends sooner than planned.
                () = turn_running.notified() => {},
                () = tokio::time::sleep(pause) => {},
            }
        }
    }

    async fn end_turns_and_plan(&self) -> anyhow::Result<Duration> {
        let clock = self.service.clock();
        let now = clock.now();
        let ended = self.service.store().turns_ended(now, BATCH).await?;
        for &ticket_id in &ended {
            let modified = self
                .service
                .change(TicketId(ticket_id), None, None, move |rules, line| {
                    rules.turn_lapsed(line, now);
                    Ok(())
                })
                .await?;
            match modified {
                Modified::Refused(refusal) => anyhow::bail!("ending a turn refused: {refusal}"),
                Modified::Saved(_) => {
                    metrics::counter!(QUEUE_TURNS, "outcome" => "lapsed").increment(1);
                }
                Modified::Unchanged(_) | Modified::Duplicate | Modified::Missing => {}
            }
        }
        if ended.len() == BATCH as usize {
            return Ok(Duration::ZERO);
        }
        Ok(match self.service.store().next_turn_end().await? {
            Some(end) => Duration::try_from((end - clock.now()).max(time::Duration::ZERO))
                .unwrap_or_default()
                .saturating_add(Duration::from_millis(1))
                .min(MAX_SLEEP),
            None => MAX_SLEEP,
        })
    }
}
