//! The embedded mode's bus: channels between services of one process.
//!
//! Nothing here is persisted, so "the bus has taken responsibility" can only mean "every
//! consumer has handled it": a [`Receipt`] completes when all consumers of the event have
//! acknowledged it. Until then the publisher's outbox row stays unsent, and a crash at any
//! point leads to re-publication after restart — which consumers' inboxes absorb.
//!
//! Like JetStream's duplicate window, an event id that was already fully handled is not
//! delivered again when published a second time (its receipt completes at once).

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::{Acknowledge, Delivery, Envelope, EventBus, Receipt, Subscription};

/// See the module documentation. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct InProcessBus {
    consumers: Arc<RwLock<Vec<Consumer>>>,
    handled: Arc<Mutex<RecentIds>>,
}

/// Ids of events every consumer has handled, the newest [`RecentIds::CAPACITY`] of them.
#[derive(Debug, Default)]
struct RecentIds {
    order: VecDeque<boxoffice_common::Id>,
    set: HashSet<boxoffice_common::Id>,
}

impl RecentIds {
    const CAPACITY: usize = 100_000;

    fn insert(&mut self, id: boxoffice_common::Id) {
        if self.set.insert(id) {
            self.order.push_back(id);
            if self.order.len() > Self::CAPACITY
                && let Some(oldest) = self.order.pop_front()
            {
                self.set.remove(&oldest);
            }
        }
    }
}

#[derive(Debug)]
struct Consumer {
    durable: String,
    types: Vec<&'static str>,
    queue: mpsc::UnboundedSender<Delivery>,
}

impl InProcessBus {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait::async_trait]
impl EventBus for InProcessBus {
    async fn publish(&self, event: &Envelope) -> anyhow::Result<Receipt> {
        if self
            .handled
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .set
            .contains(&event.id)
        {
            return Ok(Box::pin(std::future::ready(Ok(()))));
        }
        let mut handled = Vec::new();
        {
            let consumers = self.consumers.read().unwrap_or_else(|e| e.into_inner());
            for consumer in consumers
                .iter()
                .filter(|c| c.types.contains(&event.kind.as_str()))
            {
                let (done, done_rx) = oneshot::channel();
                let delivery = Delivery {
                    event: event.clone(),
                    attempt: 1,
                    acker: Box::new(InProcessAck {
                        event: event.clone(),
                        attempt: 1,
                        queue: consumer.queue.clone(),
                        done,
                    }),
                };
                anyhow::ensure!(
                    consumer.queue.send(delivery).is_ok(),
                    "consumer {} has stopped",
                    consumer.durable
                );
                handled.push(done_rx);
            }
        }
        let recent = Arc::clone(&self.handled);
        let id = event.id;
        Ok(Box::pin(async move {
            for done in handled {
                done.await
                    .map_err(|_| anyhow::anyhow!("a consumer stopped before handling the event"))?;
            }
            recent.lock().unwrap_or_else(|e| e.into_inner()).insert(id);
            Ok(())
        }))
    }

    async fn subscribe(
        &self,
        durable: &str,
        types: &[&'static str],
    ) -> anyhow::Result<Box<dyn Subscription>> {
        let (queue, deliveries) = mpsc::unbounded_channel();
        let mut consumers = self.consumers.write().unwrap_or_else(|e| e.into_inner());
        // A consumer that stopped (its receiver dropped) may be re-opened under its name.
        consumers.retain(|c| !c.queue.is_closed());
        anyhow::ensure!(
            consumers.iter().all(|c| c.durable != durable),
            "durable consumer {durable} is already open"
        );
        consumers.push(Consumer {
            durable: durable.to_owned(),
            types: types.to_vec(),
            queue,
        });
        Ok(Box::new(InProcessSubscription { deliveries }))
    }

    /// One process, so a follower is simply a consumer of its own; nothing published
    /// before it opened is kept, so `since` changes nothing.
    async fn follow(
        &self,
        name: &str,
        types: &[&'static str],
        _since: time::OffsetDateTime,
    ) -> anyhow::Result<(Box<dyn Subscription>, u64)> {
        Ok((self.subscribe(name, types).await?, 0))
    }
}

struct InProcessSubscription {
    deliveries: mpsc::UnboundedReceiver<Delivery>,
}

#[async_trait::async_trait]
impl Subscription for InProcessSubscription {
    async fn next(&mut self) -> Option<Delivery> {
        self.deliveries.recv().await
    }

    fn try_next(&mut self) -> Option<Delivery> {
        self.deliveries.try_recv().ok()
    }
}

struct InProcessAck {
    event: Envelope,
    attempt: u32,
    queue: mpsc::UnboundedSender<Delivery>,
    done: oneshot::Sender<()>,
}

#[async_trait::async_trait]
impl Acknowledge for InProcessAck {
    async fn ack(self: Box<Self>) {
        let _ = self.done.send(());
    }

    async fn nak(self: Box<Self>, delay: Duration) {
        // Redeliver later without holding up the consumer's other deliveries.
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let this = *self;
            let attempt = this.attempt + 1;
            let queue = this.queue.clone();
            let delivery = Delivery {
                event: this.event.clone(),
                attempt,
                acker: Box::new(InProcessAck { attempt, ..this }),
            };
            // If the consumer stopped, `done` is dropped with the delivery and the
            // publisher's receipt fails: the outbox row stays unsent.
            let _ = queue.send(delivery);
        });
    }
}
