//! Running an event handler as a durable consumer.
//!
//! The runner owns the delivery rules so that every handler gets them alike: handle one
//! delivery at a time (so events arrive in publication order), acknowledge what was
//! applied or deliberately ignored, ask for redelivery with back-off when an event
//! arrived before one it depends on (a version gap) or failed, and after
//! [`RetryPolicy::max_attempts`] park it as a dead letter and move on.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::bus::{Envelope, EventBus};
use crate::telemetry::{self, names, request_id};

/// How often and how patiently a consumer retries an event before parking it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Deliveries of one event before it is parked.
    pub max_attempts: u32,
    /// Wait before the second delivery; doubles for each further one.
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// How long after it occurred an event that waits for an earlier one
    /// ([`Handled::NotYet`]) is still delivered again, however many deliveries that takes.
    /// Counted from its occurring, not its first delivery: after a longer outage such an
    /// event gets its ten deliveries (about 16 s) for the earlier one to arrive, which the
    /// publisher's relay sends before it, in order.
    pub dependency_patience: Duration,
}

impl Default for RetryPolicy {
    /// Ten deliveries over about 16 s for an event that fails: short enough that a
    /// poisoned event is parked promptly. An event waiting for an earlier one is not
    /// poisoned — the outbox of its publisher guarantees the earlier one, which a killed
    /// service or bus may hold back for a while — so it waits ten minutes before it is.
    fn default() -> Self {
        Self {
            max_attempts: 10,
            first_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(5),
            dependency_patience: Duration::from_secs(10 * 60),
        }
    }
}

impl RetryPolicy {
    /// Wait before delivery `attempt + 1`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        self.first_backoff
            .saturating_mul(2_u32.saturating_pow(attempt.saturating_sub(1)))
            .min(self.max_backoff)
    }

    /// Whether delivery `attempt` of an event that occurred `age` ago, which ended as
    /// `outcome`, is the last: the event is parked instead of delivered again.
    pub fn gives_up(&self, attempt: u32, outcome: &anyhow::Result<Handled>, age: Duration) -> bool {
        let waits_for_another = matches!(outcome, Ok(Handled::NotYet));
        attempt >= self.max_attempts && !(waits_for_another && age < self.dependency_patience)
    }
}

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

/// A durable consumer, subscribed and ready to run.
///
/// Subscribing and running are two steps so that a process can subscribe every consumer
/// before any relay publishes (nothing is published to nobody), and hand the running to
/// its supervisor.
pub struct Consumer {
    durable: &'static str,
    subscription: Box<dyn crate::bus::Subscription>,
    handler: Arc<dyn EventHandler>,
    policy: RetryPolicy,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("durable", &self.durable)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// Subscribes `handler` as the durable consumer `durable` to events of `types`.
pub async fn subscribe(
    bus: Arc<dyn EventBus>,
    durable: &'static str,
    types: &[&'static str],
    handler: Arc<dyn EventHandler>,
    policy: RetryPolicy,
) -> anyhow::Result<Consumer> {
    let subscription = bus.subscribe(durable, types).await?;
    telemetry::start_consumer_series(durable);
    Ok(Consumer {
        durable,
        subscription,
        handler,
        policy,
    })
}

impl Consumer {
    /// Handles deliveries until `stop`. Ending any other way — the subscription closed —
    /// is an error, so that the supervisor reports the consumer dead.
    pub async fn run(mut self, stop: CancellationToken) -> anyhow::Result<()> {
        let (durable, policy) = (self.durable, self.policy);
        loop {
            let delivery = tokio::select! {
                () = stop.cancelled() => return Ok(()),
                next = self.subscription.next() => match next {
                    Some(delivery) => delivery,
                    None => anyhow::bail!("the subscription of consumer {durable} ended"),
                },
            };
            // Every log line of the handling carries the request id the event carries, and
            // events the handler publishes carry it on.
            let event = &delivery.event;
            let rid = event.request_id.as_deref();
            let span = tracing::info_span!("consume", consumer = durable, event = %event.id, kind = %event.kind, request_id = rid.unwrap_or("-"));
            let outcome =
                request_id::scope(rid, self.handler.handle(event).instrument(span.clone())).await;
            if let Ok(Handled::Applied) = outcome {
                // From the event's occurring to its effect committed here: how far behind
                // this service's copy of the world is (e.g. order placed → payments knows).
                let lag = (time::OffsetDateTime::now_utc() - event.occurred_at).as_seconds_f64();
                metrics::histogram!(names::CONSUMER_LAG, "consumer" => durable)
                    .record(lag.max(0.0));
            }
            let result = match &outcome {
                Ok(Handled::Applied) => "applied",
                Ok(Handled::Ignored) => "ignored",
                Ok(Handled::NotYet) => "deferred",
                Err(_) => "failed",
            };
            metrics::counter!(names::CONSUMER_EVENTS, "consumer" => durable, "result" => result)
                .increment(1);
            tracing::debug!(parent: &span, result, attempt = delivery.attempt, "event handled");
            let age = (time::OffsetDateTime::now_utc() - event.occurred_at)
                .try_into()
                .unwrap_or_default();
            let gives_up = policy.gives_up(delivery.attempt, &outcome, age);
            let reason = match outcome {
                Ok(Handled::Applied | Handled::Ignored) => {
                    delivery.ack().await;
                    continue;
                }
                Ok(Handled::NotYet) => "an event it depends on never arrived".to_owned(),
                Err(err) => format!("{err:#}"),
            };
            if !gives_up {
                tracing::debug!(parent: &span, consumer = durable, event = %delivery.event.id, attempt = delivery.attempt, %reason, "will retry");
                let wait = policy.backoff(delivery.attempt);
                delivery.nak(wait).await;
            } else {
                tracing::error!(parent: &span, consumer = durable, event = %delivery.event.id, kind = %delivery.event.kind, %reason, "parking event as a dead letter");
                match self.handler.park(&delivery.event, &reason).await {
                    Ok(()) => {
                        metrics::counter!(names::DEAD_LETTERS, "consumer" => durable).increment(1);
                        metrics::counter!(names::CONSUMER_EVENTS, "consumer" => durable, "result" => "parked")
                            .increment(1);
                        delivery.ack().await;
                    }
                    Err(err) => {
                        tracing::error!(
                            parent: &span,
                            consumer = durable,
                            error = format!("{err:#}"),
                            "could not park event"
                        );
                        delivery.nak(policy.max_backoff).await;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_ceiling() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.backoff(1), Duration::from_millis(50));
        assert_eq!(policy.backoff(2), Duration::from_millis(100));
        assert_eq!(policy.backoff(4), Duration::from_millis(400));
        assert_eq!(policy.backoff(30), policy.max_backoff);
    }

    #[test]
    fn a_failing_event_is_parked_after_its_attempts_and_a_waiting_one_after_its_patience() {
        let policy = RetryPolicy::default();
        let failed: anyhow::Result<Handled> = Err(anyhow::anyhow!("poisoned"));
        let waiting: anyhow::Result<Handled> = Ok(Handled::NotYet);
        let young = Duration::from_secs(20);
        let old = policy.dependency_patience + Duration::from_secs(1);
        assert!(!policy.gives_up(9, &failed, young));
        assert!(policy.gives_up(10, &failed, young));
        assert!(
            !policy.gives_up(10, &waiting, young),
            "the earlier event may still come"
        );
        assert!(!policy.gives_up(200, &waiting, young));
        assert!(policy.gives_up(10, &waiting, old));
        assert!(!policy.gives_up(9, &waiting, old));
    }
}
