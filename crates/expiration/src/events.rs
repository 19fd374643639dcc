//! `order:created` and `order:extended` → a job that fires when the order's hold runs out.

use std::sync::Arc;

use boxoffice_common::events::{ORDER_CREATED, ORDER_EXTENDED, OrderCreated, OrderExtended};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::consumer::{EventHandler, Handled};
use tokio::sync::Notify;

use crate::store::JobStore;

pub const CONSUMER: &str = "expiration";
pub const SUBSCRIBES_TO: &[&str] = &[ORDER_CREATED, ORDER_EXTENDED];

#[derive(Debug, Clone)]
pub struct OrderEvents {
    store: Arc<dyn JobStore>,
    scheduled: Arc<Notify>,
}

impl OrderEvents {
    pub fn new(store: Arc<dyn JobStore>, scheduled: Arc<Notify>) -> Self {
        Self { store, scheduled }
    }
}

#[async_trait::async_trait]
impl EventHandler for OrderEvents {
    async fn handle(&self, event: &Envelope) -> anyhow::Result<Handled> {
        let (order_id, due_at) = match event.kind.as_str() {
            ORDER_CREATED => {
                let order: OrderCreated = event.data()?;
                (order.id, order.expires_at)
            }
            ORDER_EXTENDED => {
                let order: OrderExtended = event.data()?;
                (order.id, order.expires_at)
            }
            _ => return Ok(Handled::Ignored),
        };
        if self
            .store
            .schedule(CONSUMER, event.id, order_id, due_at)
            .await?
        {
            self.scheduled.notify_one();
            Ok(Handled::Applied)
        } else {
            Ok(Handled::Ignored)
        }
    }

    async fn park(&self, event: &Envelope, reason: &str) -> anyhow::Result<()> {
        self.store.park(CONSUMER, event, reason).await
    }
}
