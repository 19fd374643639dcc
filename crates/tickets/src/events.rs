//! What the tickets service does when orders change: reservation state follows the
//! orders service's decisions, and every change is announced as `ticket:updated` so the
//! orders service's replica follows in version order.
//!
//! An order may hold several tickets (its basket). Each ticket is changed in its own
//! transaction, claimed in the inbox as its own part of the event ([`Claim::part`]): a
//! redelivery after a crash half-way applies only the tickets that were not, and a
//! one-ticket event (or one written before baskets) is claimed exactly as before.

use std::sync::Arc;

use boxoffice_common::events::{
    Basket, Event, ORDER_CANCELLED, ORDER_COMPLETED, ORDER_CREATED, OrderTicket, TicketUpdated,
};
use boxoffice_common::{Clock, OrderId};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::consumer::{EventHandler, Handled};
use boxoffice_platform::metrics;
use boxoffice_platform::store::{Claim, Decision, Modified};
use boxoffice_platform::telemetry::names::OVERSOLD;

use crate::domain::{Ticket, TicketStatus};
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

    /// Applies `transition` to every ticket of the basket, each in a transaction of its
    /// own under its part of the event's claim, publishing `ticket:updated` for each one
    /// that changed. Applied if any did.
    async fn apply(
        &self,
        event: &Envelope,
        basket: &[OrderTicket],
        transition: Transition,
        order: OrderId,
    ) -> anyhow::Result<Handled> {
        let mut handled = Handled::Ignored;
        let sale = event.kind == ORDER_COMPLETED;
        for (index, ticket) in basket.iter().enumerate() {
            let now = self.clock.now();
            let claim = Self::claim(event).part(index, ticket.id);
            let outcome = self
                .store
                .modify(
                    ticket.id,
                    Some(claim),
                    Box::new(move |ticket: &mut Ticket| {
                        Ok(match transition(ticket, order) {
                            Some(updated) => {
                                Decision::Save(vec![Envelope::new(SOURCE, now, &updated)])
                            }
                            None => Decision::Keep,
                        })
                    }),
                )
                .await?;
            match outcome {
                Modified::Saved(_) => handled = Handled::Applied,
                // A second order completed for a ticket already sold to another: oversold.
                Modified::Unchanged(ticket)
                    if sale
                        && ticket.status == TicketStatus::Sold
                        && ticket.order_id != Some(order.get()) =>
                {
                    tracing::error!(ticket = %ticket.id, order = %order.get(), "a sold ticket was sold again");
                    metrics::counter!(OVERSOLD).increment(1);
                }
                Modified::Unchanged(_) | Modified::Duplicate | Modified::Missing => {}
                Modified::Refused(refusal) => anyhow::bail!("unexpected refusal: {refusal}"),
            }
        }
        Ok(handled)
    }
}

#[async_trait::async_trait]
impl EventHandler for OrderEvents {
    async fn handle(&self, event: &Envelope) -> anyhow::Result<Handled> {
        match event.event()? {
            Event::OrderCreated(order) => {
                if self.store.is_order_closed(order.id).await? {
                    // Its cancellation overtook it: the order must hold none of its tickets.
                    self.store.claim_only(Self::claim(event)).await?;
                    return Ok(Handled::Ignored);
                }
                let basket = order.basket();
                self.apply(event, basket, Ticket::reserve, OrderId(order.id))
                    .await
            }
            Event::OrderCancelled(order) => {
                // Remembered first, idempotently: a redelivery after a crash repeats it.
                self.store.close_order(order.id).await?;
                let basket = order.basket();
                self.apply(event, basket, Ticket::release, OrderId(order.id))
                    .await
            }
            Event::OrderCompleted(order) => {
                let basket = order.basket();
                self.apply(event, basket, Ticket::sell, OrderId(order.id))
                    .await
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
            | Event::EventCreated(_)
            | Event::EventUpdated(_)
            | Event::SessionRevoked(_)
            | Event::UserSignedOutEverywhere(_)
            | Event::RoomGate(_)
            | Event::Unknown => Ok(Handled::Ignored),
        }
    }

    async fn park(&self, event: &Envelope, reason: &str) -> anyhow::Result<()> {
        self.store.plumbing().park(CONSUMER, event, reason).await
    }
}
