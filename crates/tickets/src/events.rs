//! What the tickets service does when orders change: reservation state follows the
//! orders service's decisions, and every change is announced as `ticket:updated` so the
//! orders service's replica follows in version order.
//!
//! An order may hold several tickets (its basket). Each ticket is claimed in the inbox as
//! its own part of the event ([`Claim::part`]), so a one-ticket event (or one written
//! before baskets) is claimed exactly as before and a part already applied is a duplicate.
//! Reservations and sales already queued are applied together, in one transaction
//! ([`EventHandler::handle_group`]); a lone event is a group of one.

use std::sync::Arc;

use boxoffice_common::events::{
    Basket, Event, ORDER_CANCELLED, ORDER_COMPLETED, ORDER_CREATED, OrderTicket, TicketUpdated,
};
use boxoffice_common::{Clock, Id, OrderId};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::consumer::{EventHandler, Handled};
use boxoffice_platform::metrics;
use boxoffice_platform::store::{Claim, Decision, Modified, only};
use boxoffice_platform::telemetry::names::OVERSOLD;

use crate::domain::{Ticket, TicketStatus};
use crate::service::SOURCE;
use crate::store::{TicketEdit, TicketModified, TicketStore};

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

    /// The edits that apply `transition` to every ticket of the basket, each under its
    /// part of the event's claim, publishing `ticket:updated` for each one that changes.
    fn edits(
        &self,
        event: &Envelope,
        basket: &[OrderTicket],
        transition: Transition,
        order: OrderId,
    ) -> Vec<TicketEdit<'static>> {
        let now = self.clock.now();
        let request_id = event.request_id.clone();
        basket
            .iter()
            .enumerate()
            .map(|(index, ticket)| {
                let request_id = request_id.clone();
                TicketEdit {
                    id: ticket.id,
                    claim: Some(Self::claim(event).part(index, ticket.id)),
                    change: Box::new(move |ticket: &mut Ticket| {
                        Ok(match transition(ticket, order) {
                            Some(updated) => {
                                Decision::Save(vec![Envelope::new(SOURCE, now, &updated)])
                                    .carrying(request_id.as_deref())
                            }
                            None => Decision::Keep,
                        })
                    }),
                }
            })
            .collect()
    }

    /// What one committed edit of `order`'s event means: whether it changed the ticket.
    /// A second order completed (`sale`) for a ticket already sold to another is an
    /// oversale, logged and counted.
    fn applied(outcome: TicketModified, sale: bool, order: OrderId) -> anyhow::Result<bool> {
        match outcome {
            Modified::Saved(_) => return Ok(true),
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
        Ok(false)
    }

    /// What `event` does to tickets, as one basket's edits; `None` for an order that is
    /// already over (its claim then recorded) or an event of no concern here.
    async fn basket_edits(
        &self,
        event: &Envelope,
    ) -> anyhow::Result<Option<(Vec<TicketEdit<'static>>, bool, OrderId)>> {
        let (basket, transition, order, sale): (&[OrderTicket], Transition, Id, bool);
        let parsed = event.event()?;
        match &parsed {
            Event::OrderCreated(created) => {
                if self.store.is_order_closed(created.id).await? {
                    // Its cancellation overtook it: the order must hold none of its tickets.
                    self.store.claim_only(Self::claim(event)).await?;
                    return Ok(None);
                }
                (basket, transition, order, sale) =
                    (created.basket(), Ticket::reserve, created.id, false);
            }
            Event::OrderCancelled(cancelled) => {
                // Remembered first, idempotently: a redelivery after a crash repeats it.
                self.store.close_order(cancelled.id).await?;
                (basket, transition, order, sale) =
                    (cancelled.basket(), Ticket::release, cancelled.id, false);
            }
            Event::OrderCompleted(completed) => {
                (basket, transition, order, sale) =
                    (completed.basket(), Ticket::sell, completed.id, true);
            }
            _ => return Ok(None),
        }
        let order = OrderId(order);
        Ok(Some((
            self.edits(event, basket, transition, order),
            sale,
            order,
        )))
    }
}

#[async_trait::async_trait]
impl EventHandler for OrderEvents {
    async fn handle(&self, event: &Envelope) -> anyhow::Result<Handled> {
        only(self.handle_group(&[event]).await?)
    }

    async fn park(&self, event: &Envelope, reason: &str) -> anyhow::Result<()> {
        self.store.plumbing().park(CONSUMER, event, reason).await
    }

    /// Reservations and sales: an on-sale queues thousands, each a ticket or a basket,
    /// applied in one transaction. A cancellation first remembers its order as closed in
    /// a write of its own, so it is handled alone, and an `order:created` that follows it
    /// in the queue is judged after it, as one by one.
    fn can_group(&self, event: &Envelope) -> bool {
        matches!(event.kind.as_str(), ORDER_CREATED | ORDER_COMPLETED)
    }

    async fn handle_group(&self, events: &[&Envelope]) -> anyhow::Result<Vec<Handled>> {
        let mut edits = Vec::new();
        // Per edit: the event it is for, whether it sells, and its order.
        let mut owners = Vec::new();
        for (position, event) in events.iter().enumerate() {
            if let Some((basket, sale, order)) = self.basket_edits(event).await? {
                owners.extend(std::iter::repeat_n((position, sale, order), basket.len()));
                edits.extend(basket);
            }
        }
        let mut outcomes = vec![Handled::Ignored; events.len()];
        if edits.is_empty() {
            return Ok(outcomes);
        }
        let modified = self.store.modify_all(edits).await?;
        for ((position, sale, order), outcome) in owners.into_iter().zip(modified) {
            if Self::applied(outcome, sale, order)? {
                outcomes[position] = Handled::Applied;
            }
        }
        Ok(outcomes)
    }
}
