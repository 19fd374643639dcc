//! `order:created` and `order:extended` → a job that fires when the order's hold runs out.

use std::sync::Arc;

use boxoffice_common::events::{Event, ORDER_CREATED, ORDER_EXTENDED};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::consumer::{EventHandler, Handled};
use boxoffice_platform::store::{Claim, only};
use tokio::sync::Notify;

use crate::store::{Job, JobStore};

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

/// The job an event asks for: one for each hold end of an order (a stale one fires
/// harmlessly — orders ignores an expiry before the hold's current end); `None` for an
/// event of no concern here.
fn job_of(envelope: &Envelope) -> anyhow::Result<Option<Job<'static>>> {
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
        | Event::Unknown => return Ok(None),
    };
    let claim = Claim {
        consumer: CONSUMER,
        event_id: envelope.id,
    };
    Ok(Some(Job {
        claim,
        order_id,
        due_at,
    }))
}

#[async_trait::async_trait]
impl EventHandler for OrderEvents {
    async fn handle(&self, envelope: &Envelope) -> anyhow::Result<Handled> {
        only(self.handle_group(&[envelope]).await?)
    }

    /// Every event here only adds a job, so a queue of them (an on-sale's new orders) is
    /// scheduled in one transaction.
    fn can_group(&self, _: &Envelope) -> bool {
        true
    }

    async fn handle_group(&self, envelopes: &[&Envelope]) -> anyhow::Result<Vec<Handled>> {
        let mut outcomes = vec![Handled::Ignored; envelopes.len()];
        let mut jobs = Vec::with_capacity(envelopes.len());
        let mut positions = Vec::with_capacity(envelopes.len());
        for (position, envelope) in envelopes.iter().enumerate() {
            if let Some(job) = job_of(envelope)? {
                jobs.push(job);
                positions.push(position);
            }
        }
        if jobs.is_empty() {
            return Ok(outcomes);
        }
        let fresh = self.store.schedule_all(&jobs).await?;
        for (position, fresh) in positions.into_iter().zip(fresh) {
            if fresh {
                outcomes[position] = Handled::Applied;
            }
        }
        if outcomes.contains(&Handled::Applied) {
            self.scheduled.notify_one();
        }
        Ok(outcomes)
    }

    async fn park(&self, envelope: &Envelope, reason: &str) -> anyhow::Result<()> {
        self.store.plumbing().park(CONSUMER, envelope, reason).await
    }
}
