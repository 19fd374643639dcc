//! What the queue does with other services' events: follow who holds each ticket, end a
//! line when its ticket is sold or withdrawn, and hand the turn on when a hold lapses.

use boxoffice_common::events::{
    Event, ORDER_CANCELLED, ORDER_COMPLETED, ORDER_CREATED, TICKET_CREATED, TICKET_DELETED,
};
use boxoffice_common::{TicketId, UserId};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::consumer::{EventHandler, Handled};
use boxoffice_platform::store::{Claim, Modified};

use crate::service::QueueService;

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
    async fn handle(&self, envelope: &Envelope) -> anyhow::Result<Handled> {
        let claim = Some(Claim {
            consumer: CONSUMER,
            event_id: envelope.id,
        });
        let now = self.service.clock().now();
        let service = &self.service;
        let outcome = match envelope.event()? {
            Event::TicketCreated(ticket) => {
                let seller = ticket.user_id;
                service
                    .change(TicketId(ticket.id), None, claim, move |rules, line| {
                        rules.ticket_listed(line, seller);
                        Ok(())
                    })
                    .await?
            }
            Event::TicketDeleted(ticket) => {
                service
                    .change(TicketId(ticket.id), None, claim, |rules, line| {
                        rules.ticket_deleted(line);
                        Ok(())
                    })
                    .await?
            }
            Event::OrderCreated(order) => {
                let (id, expires_at) = (order.id, order.expires_at);
                let buyer = Some(UserId(order.user_id));
                service
                    .change(
                        TicketId(order.ticket.id),
                        buyer,
                        claim,
                        move |rules, line| {
                            rules.order_placed(line, id, expires_at);
                            Ok(())
                        },
                    )
                    .await?
            }
            Event::OrderCancelled(order) => {
                let id = order.id;
                service
                    .change(
                        TicketId(order.ticket.id),
                        None,
                        claim,
                        move |rules, line| {
                            rules.order_cancelled(line, id, now);
                            Ok(())
                        },
                    )
                    .await?
            }
            Event::OrderCompleted(order) => {
                service
                    .change(TicketId(order.ticket.id), None, claim, |rules, line| {
                        rules.order_completed(line);
                        Ok(())
                    })
                    .await?
            }
            // A hold's end moving for a payment in flight matters to no wait estimate.
            Event::OrderExtended(_)
            | Event::TicketUpdated(_)
            | Event::ExpirationComplete(_)
            | Event::PaymentCreated(_)
            | Event::PaymentRefunded(_)
            | Event::PaymentPending(_)
            | Event::PaymentFailed(_)
            | Event::PaymentAuthorized(_)
            | Event::OrderRefused(_)
            | Event::QueueLine(_)
            | Event::Unknown => return Ok(Handled::Ignored),
        };
        Ok(match outcome {
            Modified::Saved(_) => Handled::Applied,
            Modified::Unchanged(_) | Modified::Duplicate | Modified::Missing => Handled::Ignored,
            Modified::Refused(refusal) => anyhow::bail!("an event's rule refused: {refusal}"),
        })
    }

    async fn park(&self, envelope: &Envelope, reason: &str) -> anyhow::Result<()> {
        self.service
            .store()
            .plumbing()
            .park(CONSUMER, envelope, reason)
            .await
    }
}
