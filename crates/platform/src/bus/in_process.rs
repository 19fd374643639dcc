//! The embedded mode's bus: channels between services of one process.
//!
//! Nothing here is persisted, so "the bus has taken responsibility" can only mean "every
//! consumer has handled it": a [`Receipt`] completes when all consumers of the event have
//! acknowledged it. Until then the publisher's outbox row stays unsent, and a crash at any
//! point leads to re-publication after restart — which consumers' inboxes absorb.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::{Acknowledge, Delivery, Envelope, EventBus, Receipt, Subscription};

/// See the module documentation. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct InProcessBus {
    consumers: Arc<RwLock<Vec<Consumer>>>,
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
        Ok(Box::pin(async move {
            for done in handled {
                done.await
                    .map_err(|_| anyhow::anyhow!("a consumer stopped before handling the event"))?;
            }
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
}

struct InProcessSubscription {
    deliveries: mpsc::UnboundedReceiver<Delivery>,
}

#[async_trait::async_trait]
impl Subscription for InProcessSubscription {
    async fn next(&mut self) -> Option<Delivery> {
        self.deliveries.recv().await
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
