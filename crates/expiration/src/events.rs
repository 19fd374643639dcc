//! `order:created` and `order:extended` → a job that fires when the order's hold runs out.

use std::sync::Arc;

use boxoffice_common::events::{Event, ORDER_CREATED, ORDER_EXTENDED};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::consumer::{EventHandler, Handled};
use boxoffice_platform::store::Claim;
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
    async fn handle(&self, envelope: &Envelope) -> anyhow::Result<Handled> {
        // Every hold end gets its own job: a stale one fires harmlessly (orders ignores an
        // expiry before the hold's current end).
        let (order_id, due_at) = match envelope.event()? {
            Event::OrderCreated(order) => (order.id, order.expires_at),
            Event::OrderExtended(order) => (order.id, order.expires_at),
            Event::TicketCreated(_)
            | Event::TicketUpdated(_)
            | Event::TicketDeleted(_)
            | Event::OrderCancelled(_)
            | Event::OrderCompleted(_)
            | Event::ExpirationComplete(_)
            | Event::PaymentCreated(_)
            | Event::PaymentRefunded(_)
            | Event::PaymentPending(_)
            | Event::PaymentFailed(_)
            | Event::PaymentAuthorized(_)
            | Event::OrderRefused(_)
            | Event::QueueLine(_)
            | Event::EventCreated(_)
            | Event::EventUpdated(_)
            | Event::SessionRevoked(_)
            | Event::UserSignedOutEverywhere(_)
            | Event::RoomGate(_)
            | Event::Unknown => return Ok(Handled::Ignored),
        };
        let claim = Claim {
            consumer: CONSUMER,
            event_id: envelope.id,
        };
        if self.store.schedule(claim, order_id, due_at).await? {
            self.scheduled.notify_one();
            Ok(Handled::Applied)
        } else {
            Ok(Handled::Ignored)
        }
    }

    async fn park(&self, envelope: &Envelope, reason: &str) -> anyhow::Result<()> {
        self.store.plumbing().park(CONSUMER, envelope, reason).await
    }
}
