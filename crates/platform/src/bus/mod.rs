//! The event bus: how services hear of each other's changes.
//!
//! The trait is shaped after JetStream so that the in-process bus of the embedded mode and
//! the NATS bus of the distributed mode are interchangeable:
//!
//! * [`EventBus::publish`] hands an event over and returns a [`Receipt`] that completes
//!   once the bus has taken responsibility for it (JetStream: stored in the stream;
//!   in-process: handled by every consumer). The outbox relay marks a row sent only then.
//! * [`EventBus::subscribe`] opens a *durable* named consumer: every event of its types
//!   published while the application runs reaches it at least once.
//! * [`EventBus::follow`] opens a subscription of one process: every process that follows
//!   a type sees every event of it (how each process learns of ended sessions).
//! * A [`Delivery`] is acknowledged explicitly; `nak` asks for redelivery after a delay.
//!
//! * [`envelope`] — the envelope every event travels in.
//! * [`in_process`] — the embedded mode's bus.
//! * [`nats`] — the distributed mode's bus, on NATS JetStream.

pub mod envelope;
pub mod in_process;
pub mod nats;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub use envelope::Envelope;
pub use in_process::InProcessBus;
pub use nats::NatsBus;

/// Completes when the bus has taken responsibility for a published event.
pub type Receipt = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// Publishing and durable subscriptions.
#[async_trait::async_trait]
pub trait EventBus: Send + Sync + 'static {
    /// Sends `event`. Events published one after another by one caller are delivered in
    /// that order to each consumer (until a `nak` reorders them).
    async fn publish(&self, event: &Envelope) -> anyhow::Result<Receipt>;

    /// Opens the durable consumer `durable`, receiving events whose type is in `types`.
    async fn subscribe(
        &self,
        durable: &str,
        types: &[&'static str],
    ) -> anyhow::Result<Box<dyn Subscription>>;

    /// Opens a subscription of this process alone, named `name`: every process that opens
    /// one receives every event of `types` (the events of a durable consumer are shared out
    /// among its replicas instead). It starts with the events published since `since` that
    /// the bus still holds (JetStream: the stream; the in-process bus holds none), and
    /// returns how many of those were waiting when it opened. Deliveries are acknowledged
    /// like any other; nothing is remembered across restarts.
    async fn follow(
        &self,
        name: &str,
        types: &[&'static str],
        since: time::OffsetDateTime,
    ) -> anyhow::Result<(Box<dyn Subscription>, u64)>;
}

/// A stream of deliveries for one durable consumer.
#[async_trait::async_trait]
pub trait Subscription: Send {
    /// The next delivery; `None` once the bus has shut down.
    async fn next(&mut self) -> Option<Delivery>;

    /// A delivery that is already waiting, without waiting for one: how a consumer
    /// gathers a group of queued events. `None` when nothing is at hand (or the bus
    /// cannot tell without waiting); [`Self::next`] then waits as usual.
    fn try_next(&mut self) -> Option<Delivery> {
        None
    }
}

/// One delivery of one event. Exactly one of `ack` or `nak` must be called.
pub struct Delivery {
    pub event: Envelope,
    /// 1 for the first delivery, counting up with each redelivery.
    pub attempt: u32,
    pub(crate) acker: Box<dyn Acknowledge>,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("event", &self.event)
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}

impl Delivery {
    /// The event is handled (or deliberately dropped); do not deliver it again.
    pub async fn ack(self) {
        self.acker.ack().await;
    }

    /// The event could not be handled yet; deliver it again after `delay`.
    pub async fn nak(self, delay: Duration) {
        self.acker.nak(delay).await;
    }
}

/// How a bus learns what became of a delivery.
#[async_trait::async_trait]
pub(crate) trait Acknowledge: Send {
    async fn ack(self: Box<Self>);
    async fn nak(self: Box<Self>, delay: Duration);
}
