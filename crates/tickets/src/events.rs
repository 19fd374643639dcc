//! What the tickets service does when orders change: reservation state follows the
//! orders service's decisions, and every change is announced as `ticket:updated` so the
//! orders service's replica follows in version order.

use std::sync::Arc;

use boxoffice_common::events::{
    ORDER_CANCELLED, ORDER_COMPLETED, ORDER_CREATED, OrderCancelled, OrderCompleted, OrderCreated,
};
use boxoffice_common::{Clock, Id};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::consumer::{EventHandler, Handled};

use crate::domain::Ticket;
use crate::service::SOURCE;
use crate::store::{Claim, Decision, Modified, TicketStore};

/// Durable consumer name.
pub const CONSUMER: &str = "tickets";
/// Event types this service listens to.
pub const SUBSCRIBES_TO: &[&str] = &[ORDER_CREATED, ORDER_CANCELLED, ORDER_COMPLETED];

/// Applies order events to tickets.
#[derive(Debug, Clone)]
pub struct OrderEvents {
    store: Arc<dyn TicketStore>,
    clock: Arc<dyn Clock>,
}

impl OrderEvents {
    pub fn new(store: Arc<dyn TicketStore>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// Applies `transition` to the ticket, publishing `ticket:updated` if it changed.
    async fn apply(
        &self,
        event: &Envelope,
        ticket_id: Id,
        transition: fn(&mut Ticket, Id) -> bool,
        order_id: Id,
    ) -> anyhow::Result<Handled> {
        let now = self.clock.now();
        let claim = Claim {
            consumer: CONSUMER,
            event_id: event.id,
        };
        let outcome = self
            .store
            .modify(
                ticket_id,
                Some(claim),
                Box::new(move |ticket: &mut Ticket| {
                    Ok(if transition(ticket, order_id) {
                        Decision::Save(vec![Envelope::new(SOURCE, now, &ticket.updated_event())])
                    } else {
                        Decision::Keep
                    })
                }),
            )
            .await?
            .map_err(|refusal| anyhow::anyhow!("unexpected refusal: {refusal}"))?;
        Ok(match outcome {
            Modified::Saved(_) => Handled::Applied,
            Modified::Unchanged(_) | Modified::Duplicate | Modified::Missing => Handled::Ignored,
        })
    }
}

#[async_trait::async_trait]
impl EventHandler for OrderEvents {
    async fn handle(&self, event: &Envelope) -> anyhow::Result<Handled> {
        match event.kind.as_str() {
            ORDER_CREATED => {
                let order: OrderCreated = event.data()?;
                if self.store.is_order_closed(order.id).await? {
                    // Its cancellation overtook it: the order must not hold the ticket.
                    let claim = Claim {
                        consumer: CONSUMER,
                        event_id: event.id,
                    };
                    self.store.claim_only(claim).await?;
                    return Ok(Handled::Ignored);
                }
                self.apply(event, order.ticket.id, Ticket::reserve, order.id)
                    .await
            }
            ORDER_CANCELLED => {
                let order: OrderCancelled = event.data()?;
                // Remembered first, idempotently: a redelivery after a crash repeats it.
                self.store.close_order(order.id).await?;
                self.apply(event, order.ticket.id, Ticket::release, order.id)
                    .await
            }
            ORDER_COMPLETED => {
                let order: OrderCompleted = event.data()?;
                self.apply(event, order.ticket.id, Ticket::sell, order.id)
                    .await
            }
            _ => Ok(Handled::Ignored),
        }
    }

    async fn park(&self, event: &Envelope, reason: &str) -> anyhow::Result<()> {
        self.store.park(CONSUMER, event, reason).await
    }
}
