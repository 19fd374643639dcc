//! Running an event handler as a durable consumer.
//!
//! The runner owns the delivery rules so that every handler gets them alike: handle one
//! delivery at a time (so events arrive in publication order), acknowledge what was
//! applied or deliberately ignored, ask for redelivery with back-off when an event
//! arrived before one it depends on (a version gap) or failed, and after
//! [`RetryPolicy::max_attempts`] park it as a dead letter and move on.
//!
//! **Groups.** When events queue up (an on-sale publishes thousands of orders in a
//! second) a handler may apply a run of them in one transaction
//! ([`EventHandler::can_group`], [`EventHandler::handle_group`]): one wait for the
//! database's single writer and one commit instead of one per event, still in publication
//! order. Only deliveries already waiting are grouped — a lone event is never held back to
//! wait for company — and a group that fails is handled again one event at a time, so a
//! poisoned event meets the same retries and dead-lettering as ever.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::bus::{Delivery, Envelope, EventBus};
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

    /// Whether `event` may be applied together with the events around it by
    /// [`Self::handle_group`]. None may by default.
    fn can_group(&self, event: &Envelope) -> bool {
        let _ = event;
        false
    }

    /// Applies `events` — consecutive, each one [`Self::can_group`] accepted — exactly as
    /// [`Self::handle`] would one after another, but in one transaction: one outcome per
    /// event, in order. An error means nothing was applied; the runner then hands the
    /// events to [`Self::handle`] one at a time. By default that is all this does.
    async fn handle_group(&self, events: &[&Envelope]) -> anyhow::Result<Vec<Handled>> {
        let mut outcomes = Vec::with_capacity(events.len());
        for event in events {
            outcomes.push(self.handle(event).await?);
        }
        Ok(outcomes)
    }
}

/// The most events applied in one transaction: enough to absorb an on-sale's burst, few
/// enough that one transaction never holds the writer for long.
pub const MAX_GROUP: usize = 256;

/// A durable consumer, subscribed and ready to run.
///
/// Subscribing and running are two steps so that a process can subscribe every consumer
/// before any relay publishes (nothing is published to nobody), and hand the running to
/// its supervisor.
pub struct Consumer {
    subscription: Box<dyn crate::bus::Subscription>,
    rules: Rules,
}

/// What a consumer does with a delivery, apart from where deliveries come from (which
/// only the run loop touches).
struct Rules {
    durable: &'static str,
    handler: Arc<dyn EventHandler>,
    policy: RetryPolicy,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("durable", &self.rules.durable)
            .field("policy", &self.rules.policy)
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
        subscription,
        rules: Rules {
            durable,
            handler,
            policy,
        },
    })
}

impl Consumer {
    /// Handles deliveries until `stop`. Ending any other way — the subscription closed —
    /// is an error, so that the supervisor reports the consumer dead.
    pub async fn run(mut self, stop: CancellationToken) -> anyhow::Result<()> {
        let rules = &self.rules;
        let durable = rules.durable;
        // A delivery taken while gathering a group that could not join it: it comes next.
        let mut held: Option<Delivery> = None;
        loop {
            let first = match held.take() {
                Some(delivery) => delivery,
                None => tokio::select! {
                    () = stop.cancelled() => return Ok(()),
                    next = self.subscription.next() => match next {
                        Some(delivery) => delivery,
                        None => anyhow::bail!("the subscription of consumer {durable} ended"),
                    },
                },
            };
            let mut group = vec![first];
            if rules.handler.can_group(&group[0].event) {
                while group.len() < MAX_GROUP {
                    let Some(next) = self.subscription.try_next() else {
                        break;
                    };
                    if rules.handler.can_group(&next.event) {
                        group.push(next);
                    } else {
                        held = Some(next);
                        break;
                    }
                }
            }
            if group.len() == 1 {
                let delivery = group.pop().expect("one delivery");
                let outcome = rules.handle_one(&delivery.event).await;
                rules.settle(delivery, outcome).await;
                continue;
            }
            let events: Vec<&Envelope> = group.iter().map(|d| &d.event).collect();
            let span =
                tracing::info_span!("consume_group", consumer = durable, events = events.len());
            match rules.handler.handle_group(&events).instrument(span).await {
                Ok(outcomes) if outcomes.len() == group.len() => {
                    for (delivery, outcome) in group.into_iter().zip(outcomes) {
                        rules.record(&delivery.event, &Ok(outcome));
                        rules.settle(delivery, Ok(outcome)).await;
                    }
                }
                grouped => {
                    if let Err(err) = grouped {
                        tracing::debug!(
                            consumer = durable,
                            error = format!("{err:#}"),
                            "group failed; handling its events one at a time"
                        );
                    }
                    for delivery in group {
                        let outcome = rules.handle_one(&delivery.event).await;
                        rules.settle(delivery, outcome).await;
                    }
                }
            }
        }
    }
}

impl Rules {
    /// Handles one event on its own, with its request id and its metrics.
    async fn handle_one(&self, event: &Envelope) -> anyhow::Result<Handled> {
        // Every log line of the handling carries the request id the event carries, and
        // events the handler publishes carry it on.
        let rid = event.request_id.as_deref();
        let span = tracing::info_span!("consume", consumer = self.durable, event = %event.id, kind = %event.kind, request_id = rid.unwrap_or("-"));
        let outcome = request_id::scope(rid, self.handler.handle(event).instrument(span)).await;
        self.record(event, &outcome);
        outcome
    }

    /// Counts what became of `event` and, once applied, how long after its occurring.
    fn record(&self, event: &Envelope, outcome: &anyhow::Result<Handled>) {
        let durable = self.durable;
        if let Ok(Handled::Applied) = outcome {
            // From the event's occurring to its effect committed here: how far behind
            // this service's copy of the world is (e.g. order placed → payments knows).
            let lag = (time::OffsetDateTime::now_utc() - event.occurred_at).as_seconds_f64();
            metrics::histogram!(names::CONSUMER_LAG, "consumer" => durable).record(lag.max(0.0));
        }
        let result = match outcome {
            Ok(Handled::Applied) => "applied",
            Ok(Handled::Ignored) => "ignored",
            Ok(Handled::NotYet) => "deferred",
            Err(_) => "failed",
        };
        metrics::counter!(names::CONSUMER_EVENTS, "consumer" => durable, "result" => result)
            .increment(1);
        tracing::debug!(consumer = durable, event = %event.id, result, "event handled");
    }

    /// Acknowledges a handled delivery, or asks for it again, or parks it.
    async fn settle(&self, delivery: Delivery, outcome: anyhow::Result<Handled>) {
        let (durable, policy) = (self.durable, self.policy);
        let age = (time::OffsetDateTime::now_utc() - delivery.event.occurred_at)
            .try_into()
            .unwrap_or_default();
        let gives_up = policy.gives_up(delivery.attempt, &outcome, age);
        let reason = match outcome {
            Ok(Handled::Applied | Handled::Ignored) => {
                delivery.ack().await;
                return;
            }
            Ok(Handled::NotYet) => "an event it depends on never arrived".to_owned(),
            Err(err) => format!("{err:#}"),
        };
        let event = &delivery.event;
        if !gives_up {
            tracing::debug!(consumer = durable, event = %event.id, attempt = delivery.attempt, %reason, "will retry");
            let wait = policy.backoff(delivery.attempt);
            delivery.nak(wait).await;
            return;
        }
        tracing::error!(consumer = durable, event = %event.id, kind = %event.kind, %reason, "parking event as a dead letter");
        match self.handler.park(event, &reason).await {
            Ok(()) => {
                metrics::counter!(names::DEAD_LETTERS, "consumer" => durable).increment(1);
                metrics::counter!(names::CONSUMER_EVENTS, "consumer" => durable, "result" => "parked")
                    .increment(1);
                delivery.ack().await;
            }
            Err(err) => {
                tracing::error!(
                    consumer = durable,
                    error = format!("{err:#}"),
                    "could not park event"
                );
                delivery.nak(policy.max_backoff).await;
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
