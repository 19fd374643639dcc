//! What the queue does with other services' events: follow who holds each ticket, end a
//! line when its ticket is sold or withdrawn, and hand the turn on when a hold lapses.

use boxoffice_common::events::{
    Basket, Event, ORDER_CANCELLED, ORDER_COMPLETED, ORDER_CREATED, OrderTicket, TICKET_CREATED,
    TICKET_DELETED,
};
use boxoffice_common::{TicketId, UserId};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::consumer::{EventHandler, Handled};
use boxoffice_platform::store::{Claim, Modified};

use crate::domain::{Line, QueueError, Rules};
use crate::service::QueueService;
use crate::store::Snapshot;

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
        let claim = Claim {
            consumer: CONSUMER,
            event_id: envelope.id,
        };
        let now = self.service.clock().now();
        let service = &self.service;
        let outcome = match envelope.event()? {
            Event::TicketCreated(ticket) => {
                let seller = ticket.user_id;
                service
                    .change(
                        TicketId(ticket.id),
                        None,
                        Some(claim),
                        move |rules, line| {
                            rules.ticket_listed(line, seller);
                            Ok(())
                        },
                    )
                    .await?
            }
            Event::TicketDeleted(ticket) => {
                service
                    .change(TicketId(ticket.id), None, Some(claim), |rules, line| {
                        rules.ticket_deleted(line);
                        Ok(())
                    })
                    .await?
            }
            Event::OrderCreated(order) => {
                let (id, expires_at) = (order.id, order.expires_at);
                let buyer = Some(UserId(order.user_id));
                let rule = move |rules: &Rules, line: &mut Line| {
                    rules.order_placed(line, id, expires_at);
                    Ok(())
                };
                return each_ticket(service, order.basket(), buyer, claim, rule).await;
            }
            Event::OrderCancelled(order) => {
                let id = order.id;
                let rule = move |rules: &Rules, line: &mut Line| {
                    rules.order_cancelled(line, id, now);
                    Ok(())
                };
                return each_ticket(service, order.basket(), None, claim, rule).await;
            }
            Event::OrderCompleted(order) => {
                let rule = |rules: &Rules, line: &mut Line| {
                    rules.order_completed(line);
                    Ok(())
                };
                return each_ticket(service, order.basket(), None, claim, rule).await;
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
            | Event::EventCreated(_)
            | Event::EventUpdated(_)
            | Event::SessionRevoked(_)
            | Event::UserSignedOutEverywhere(_)
            | Event::RoomGate(_)
            | Event::Unknown => return Ok(Handled::Ignored),
        };
        handled(outcome)
    }

    async fn park(&self, envelope: &Envelope, reason: &str) -> anyhow::Result<()> {
        self.service
            .store()
            .plumbing()
            .park(CONSUMER, envelope, reason)
            .await
    }
}

/// What became of one ticket's line.
fn handled(outcome: Modified<Snapshot, QueueError>) -> anyhow::Result<Handled> {
    Ok(match outcome {
        Modified::Saved(_) => Handled::Applied,
        Modified::Unchanged(_) | Modified::Duplicate | Modified::Missing => Handled::Ignored,
        Modified::Refused(refusal) => anyhow::bail!("an event's rule refused: {refusal}"),
    })
}

/// Applies `rule` to the line of every ticket of an order, each in a change of its own
/// claimed as its part of the event: a redelivery after a crash half-way applies only the
/// tickets it had not reached. Applied if any line changed.
async fn each_ticket(
    service: &QueueService,
    basket: &[OrderTicket],
    buyer: Option<UserId>,
    claim: Claim<'static>,
    rule: impl Fn(&Rules, &mut Line) -> Result<(), QueueError> + Clone + Send + Sync + 'static,
) -> anyhow::Result<Handled> {
    let mut outcome = Handled::Ignored;
    for (index, ticket) in basket.iter().enumerate() {
        let part = claim.part(index, ticket.id);
        let changed = service
            .change(TicketId(ticket.id), buyer, Some(part), rule.clone())
            .await?;
        if handled(changed)? == Handled::Applied {
            outcome = Handled::Applied;
        }
    }
    Ok(outcome)
}
