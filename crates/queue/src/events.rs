//! What the queue does with other services' events: follow who holds each ticket, end a
//! line when its ticket is sold or withdrawn, and hand the turn on when a hold lapses.

use boxoffice_common::events::{
    ORDER_CANCELLED, ORDER_COMPLETED, ORDER_CREATED, OrderCancelled, OrderCompleted, OrderCreated,
    TICKET_CREATED, TICKET_DELETED, TicketCreated, TicketDeleted,
};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::consumer::{EventHandler, Handled};

use crate::service::QueueService;
use crate::store::{Claim, Modified};

/// Durable consumer name.
pub const CONSUMER: &str = "queue";
/// Event types this service listens to. Not `order:extended`: a payment in flight moves a
/// hold's end only for seconds, which matters to no wait estimate, and skipping it spares
/// a write per payment in a rush.
pub const SUBSCRIBES_TO: &[&str] = &[
    TICKET_CREATED,
    TICKET_DELETED,
    ORDER_CREATED,
    ORDER_CANCELLED,
    ORDER_COMPLETED,
];

#[derive(Debug, Clone)]
pub struct QueueEvents {
    service: QueueService,
}

impl QueueEvents {
    pub fn new(service: QueueService) -> Self {
        Self { service }
    }
}

#[async_trait::async_trait]
impl EventHandler for QueueEvents {
    async fn handle(&self, event: &Envelope) -> anyhow::Result<Handled> {
        let claim = Some(Claim {
            consumer: CONSUMER,
            event_id: event.id,
        });
        let now = self.service.clock().now();
        let service = &self.service;
        let outcome = match event.kind.as_str() {
            TICKET_CREATED => {
                let ticket: TicketCreated = event.data()?;
                let seller = ticket.user_id;
                service
                    .change(ticket.id, None, claim, move |rules, line| {
                        rules.ticket_listed(line, seller);
                        Ok(())
                    })
                    .await?
            }
            TICKET_DELETED => {
                let ticket: TicketDeleted = event.data()?;
                service
                    .change(ticket.id, None, claim, |rules, line| {
                        rules.ticket_deleted(line);
                        Ok(())
                    })
                    .await?
            }
            ORDER_CREATED => {
                let order: OrderCreated = event.data()?;
                let (id, expires_at) = (order.id, order.expires_at);
                service
                    .change(
                        order.ticket.id,
                        Some(order.user_id),
                        claim,
                        move |rules, line| {
                            rules.order_placed(line, id, expires_at);
                            Ok(())
                        },
                    )
                    .await?
            }
            ORDER_CANCELLED => {
                let order: OrderCancelled = event.data()?;
                let id = order.id;
                service
                    .change(order.ticket.id, None, claim, move |rules, line| {
                        rules.order_cancelled(line, id, now);
                        Ok(())
                    })
                    .await?
            }
            ORDER_COMPLETED => {
                let order: OrderCompleted = event.data()?;
                service
                    .change(order.ticket.id, None, claim, |rules, line| {
                        rules.order_completed(line);
                        Ok(())
                    })
                    .await?
            }
            _ => return Ok(Handled::Ignored),
        };
        Ok(match outcome {
            Ok(Modified::Saved(_)) => Handled::Applied,
            Ok(Modified::Unchanged(_) | Modified::Duplicate) => Handled::Ignored,
            Err(refusal) => anyhow::bail!("an event's rule refused: {refusal}"),
        })
    }

    async fn park(&self, event: &Envelope, reason: &str) -> anyhow::Result<()> {
        self.service.store().park(CONSUMER, event, reason).await
    }
}
