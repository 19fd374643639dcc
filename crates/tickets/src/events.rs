//! What the tickets service does when orders change: reservation state follows the
//! orders service's decisions, and every change is announced as `ticket:updated` so the
//! orders service's replica follows in version order.

use std::sync::Arc;

use boxoffice_common::events::{
    Event, ORDER_CANCELLED, ORDER_COMPLETED, ORDER_CREATED, TicketUpdated,
};
use boxoffice_common::{Clock, OrderId, TicketId};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::consumer::{EventHandler, Handled};
use boxoffice_platform::store::{Claim, Decision, Modified};

use crate::domain::Ticket;
use crate::service::SOURCE;
use crate::store::TicketStore;

/// Durable consumer name.
pub const CONSUMER: &str = "tickets";
/// Event types this service listens to.
pub const SUBSCRIBES_TO: &[&str] = &[ORDER_CREATED, ORDER_CANCELLED, ORDER_COMPLETED];

/// A reservation transition of the domain: the `ticket:updated` payload if it changed.
type Transition = fn(&mut Ticket, OrderId) -> Option<TicketUpdated>;

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

    fn claim(event: &Envelope) -> Claim<'static> {
        Claim {
            consumer: CONSUMER,
            event_id: event.id,
        }
    }

    /// Applies `transition` to the ticket, publishing `ticket:updated` if it changed.
    async fn apply(
        &self,
        event: &Envelope,
        ticket: TicketId,
        transition: Transition,
        order: OrderId,
    ) -> anyhow::Result<Handled> {
        let now = self.clock.now();
        let outcome = self
            .store
            .modify(
                ticket.get(),
                Some(Self::claim(event)),
                Box::new(move |ticket: &mut Ticket| {
                    Ok(match transition(ticket, order) {
                        Some(updated) => Decision::Save(vec![Envelope::new(SOURCE, now, &updated)]),
                        None => Decision::Keep,
                    })
                }),
            )
            .await?;
        match outcome {
            Modified::Saved(_) => Ok(Handled::Applied),
            Modified::Unchanged(_) | Modified::Duplicate | Modified::Missing => {
                Ok(Handled::Ignored)
            }
            Modified::Refused(refusal) => anyhow::bail!("unexpected refusal: {refusal}"),
        }
    }
}

#[async_trait::async_trait]
impl EventHandler for OrderEvents {
    async fn handle(&self, event: &Envelope) -> anyhow::Result<Handled> {
        match event.event()? {
            Event::OrderCreated(order) => {
                if self.store.is_order_closed(order.id).await? {
                    // Its cancellation overtook it: the order must not hold the ticket.
                    self.store.claim_only(Self::claim(event)).await?;
                    return Ok(Handled::Ignored);
                }
                let (ticket, order) = (TicketId(order.ticket.id), OrderId(order.id));
                self.apply(event, ticket, Ticket::reserve, order).await
            }
            Event::OrderCancelled(order) => {
                // Remembered first, idempotently: a redelivery after a crash repeats it.
                self.store.close_order(order.id).await?;
                let (ticket, order) = (TicketId(order.ticket.id), OrderId(order.id));
                self.apply(event, ticket, Ticket::release, order).await
            }
            Event::OrderCompleted(order) => {
                let (ticket, order) = (TicketId(order.ticket.id), OrderId(order.id));
                self.apply(event, ticket, Ticket::sell, order).await
            }
            Event::TicketCreated(_)
            | Event::TicketUpdated(_)
            | Event::TicketDeleted(_)
            | Event::OrderExtended(_)
            | Event::ExpirationComplete(_)
            | Event::PaymentCreated(_)
            | Event::PaymentRefunded(_)
            | Event::PaymentPending(_)
            | Event::PaymentFailed(_)
            | Event::PaymentAuthorized(_)
            | Event::OrderRefused(_)
            | Event::QueueLine(_)
            | Event::Unknown => Ok(Handled::Ignored),
        }
    }

    async fn park(&self, event: &Envelope, reason: &str) -> anyhow::Result<()> {
        self.store.plumbing().park(CONSUMER, event, reason).await
    }
}
