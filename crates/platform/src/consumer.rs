//! Running an event handler as a durable consumer.
//!
//! The runner owns the delivery rules so that every handler gets them alike: handle one
//! delivery at a time (so events arrive in publication order), acknowledge what was
//! applied or deliberately ignored, ask for redelivery with back-off when an event
//! arrived before one it depends on (a version gap) or failed, and after
//! [`MAX_ATTEMPTS`] park it as a dead letter and move on.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::bus::{Envelope, EventBus};

/// Deliveries of one event before it is parked.
pub const MAX_ATTEMPTS: u32 = 10;
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What became of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// The effect is committed (with the event id in the inbox).
    Applied,
    /// Seen before, stale, or irrelevant: nothing to do, ever.
    Ignored,
    /// It depends on an event not yet applied (e.g. version n before n − 1): try later.
    NotYet,
}

/// A service's reaction to events of some types.
#[async_trait::async_trait]
pub trait EventHandler: Send + Sync + 'static {
    /// Applies the event exactly once: implementations record `event.id` in their inbox
    /// in the same transaction as the effect, and answer `Ignored` for a known id.
    async fn handle(&self, event: &Envelope) -> anyhow::Result<Handled>;

    /// Stores an event that could not be applied, with the reason, for an operator.
    async fn park(&self, event: &Envelope, reason: &str) -> anyhow::Result<()>;
}

/// Wait before delivery `attempt + 1`: 50 ms, doubling, at most 5 s.
pub fn backoff(attempt: u32) -> Duration {
    FIRST_BACKOFF
        .saturating_mul(2_u32.saturating_pow(attempt.saturating_sub(1)))
        .min(MAX_BACKOFF)
}

/// Subscribes `handler` as the durable consumer `durable` and runs it until `stop`.
pub async fn run(
    bus: Arc<dyn EventBus>,
    durable: &'static str,
    types: &[&'static str],
    handler: Arc<dyn EventHandler>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let mut subscription = bus.subscribe(durable, types).await?;
    tokio::spawn(async move {
        loop {
            let delivery = tokio::select! {
                () = stop.cancelled() => break,
                next = subscription.next() => match next {
                    Some(delivery) => delivery,
                    None => break,
                },
            };
            let outcome = handler.handle(&delivery.event).await;
            let reason = match outcome {
                Ok(Handled::Applied | Handled::Ignored) => {
                    delivery.ack().await;
                    continue;
                }
                Ok(Handled::NotYet) => "an event it depends on never arrived".to_owned(),
                Err(err) => format!("{err:#}"),
            };
            if delivery.attempt < MAX_ATTEMPTS {
                tracing::debug!(consumer = durable, event = %delivery.event.id, attempt = delivery.attempt, %reason, "will retry");
                let wait = backoff(delivery.attempt);
                delivery.nak(wait).await;
            } else {
                tracing::error!(consumer = durable, event = %delivery.event.id, kind = %delivery.event.kind, %reason, "parking event as a dead letter");
                match handler.park(&delivery.event, &reason).await {
                    Ok(()) => delivery.ack().await,
                    Err(err) => {
                        tracing::error!(
                            consumer = durable,
                            error = format!("{err:#}"),
                            "could not park event"
                        );
                        delivery.nak(MAX_BACKOFF).await;
                    }
                }
            }
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_ceiling() {
        assert_eq!(backoff(1), Duration::from_millis(50));
        assert_eq!(backoff(2), Duration::from_millis(100));
        assert_eq!(backoff(4), Duration::from_millis(400));
        assert_eq!(backoff(30), MAX_BACKOFF);
    }
}
