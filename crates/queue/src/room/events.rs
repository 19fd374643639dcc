//! What the rooms take from other services' events: each event's creator and start (who
//! may set a room up, when it closes), each ticket's event and whether it is free (the
//! stock admissions follow), and orders placed by admitted buyers (their admission was
//! used). A consumer of its own, so the lines' consumer is not slowed by it.

use boxoffice_common::Id;
use boxoffice_common::events::{
    Basket, EVENT_CREATED, EVENT_UPDATED, Event, ORDER_CANCELLED, ORDER_COMPLETED, ORDER_CREATED,
    TICKET_CREATED, TICKET_DELETED, TICKET_UPDATED,
};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::consumer::{EventHandler, Handled};
use boxoffice_platform::store::{Claim, only};

use super::service::Rooms;
use super::store::{EventFacts, RoomStore, WorldChange};
use std::sync::Arc;

/// Durable consumer name.
pub const CONSUMER: &str = "queue-rooms";
/// Event types the rooms listen to.
pub const SUBSCRIBES_TO: &[&str] = &[
    EVENT_CREATED,
    EVENT_UPDATED,
    TICKET_CREATED,
    TICKET_UPDATED,
    TICKET_DELETED,
    ORDER_CREATED,
    ORDER_CANCELLED,
    ORDER_COMPLETED,
];

#[derive(Debug, Clone)]
pub struct RoomEvents {
    store: Arc<dyn RoomStore>,
    rooms: Rooms,
    /// Where dead letters go: the queue store's plumbing.
    plumbing: Arc<dyn boxoffice_platform::store::Plumbing>,
}

impl RoomEvents {
    pub fn new(
        store: Arc<dyn RoomStore>,
        rooms: Rooms,
        plumbing: Arc<dyn boxoffice_platform::store::Plumbing>,
    ) -> Self {
        Self {
            store,
            rooms,
            plumbing,
        }
    }
}

fn ids(basket: &[boxoffice_common::events::OrderTicket]) -> Vec<Id> {
    basket.iter().map(|ticket| ticket.id).collect()
}

fn millis(at: time::OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

/// What an event changes in the rooms' view of the world, and for a new order its
/// buyer; `None` for an event of no concern here.
fn change_of(envelope: &Envelope) -> anyhow::Result<Option<(WorldChange, Option<Id>)>> {
    let mut buyer = None;
    let change = match envelope.event()? {
        Event::EventCreated(event) => {
            let details = event.0;
            WorldChange::Event {
                id: details.id,
                facts: EventFacts {
                    creator: details.user_id,
                    starts_at: millis(details.starts_at),
                },
            }
        }
        Event::EventUpdated(event) => {
            let details = event.0;
            WorldChange::Event {
                id: details.id,
                facts: EventFacts {
                    creator: details.user_id,
                    starts_at: millis(details.starts_at),
                },
            }
        }
        Event::TicketCreated(ticket) => WorldChange::Ticket {
            id: ticket.id,
            event: ticket.event_id,
        },
        Event::TicketUpdated(ticket) => WorldChange::Ticket {
            id: ticket.id,
            event: ticket.event_id,
        },
        Event::TicketDeleted(ticket) => WorldChange::Gone { id: ticket.id },
        Event::OrderCreated(order) => {
            buyer = Some(order.user_id);
            WorldChange::Held {
                tickets: ids(order.basket()),
                buyer: order.user_id,
            }
        }
        Event::OrderCancelled(order) => WorldChange::Freed {
            tickets: ids(order.basket()),
        },
        Event::OrderCompleted(order) => WorldChange::Sold {
            tickets: ids(order.basket()),
        },
        Event::OrderExtended(_)
        | Event::ExpirationComplete(_)
        | Event::PaymentCreated(_)
        | Event::PaymentRefunded(_)
        | Event::PaymentPending(_)
        | Event::PaymentFailed(_)
        | Event::PaymentAuthorized(_)
        | Event::OrderRefused(_)
        | Event::QueueLine(_)
        | Event::SessionRevoked(_)
        | Event::UserSignedOutEverywhere(_)
        | Event::RoomGate(_)
        | Event::Unknown => return Ok(None),
    };
    Ok(Some((change, buyer)))
}

#[async_trait::async_trait]
impl EventHandler for RoomEvents {
    async fn handle(&self, envelope: &Envelope) -> anyhow::Result<Handled> {
        only(self.handle_group(&[envelope]).await?)
    }

    /// Every event here is a small write to the rooms' view of the world; an on-sale
    /// sends them by the thousand, so a queue of them is applied in one transaction.
    fn can_group(&self, _: &Envelope) -> bool {
        true
    }

    async fn handle_group(&self, envelopes: &[&Envelope]) -> anyhow::Result<Vec<Handled>> {
        let mut outcomes = vec![Handled::Ignored; envelopes.len()];
        let mut changes = Vec::with_capacity(envelopes.len());
        let mut buyers = Vec::with_capacity(envelopes.len());
        for (position, envelope) in envelopes.iter().enumerate() {
            if let Some((change, buyer)) = change_of(envelope)? {
                let claim = Claim {
                    consumer: CONSUMER,
                    event_id: envelope.id,
                };
                changes.push((claim, change));
                buyers.push(buyer);
                outcomes[position] = Handled::Applied;
            }
        }
        if changes.is_empty() {
            return Ok(outcomes);
        }
        let concerned = self.store.apply_all(&changes).await?;
        for (buyer, events) in buyers.into_iter().zip(concerned) {
            if let Some(buyer) = buyer {
                for event in events {
                    self.rooms.ordered(buyer, event).await?;
                }
            }
        }
        Ok(outcomes)
    }

    async fn park(&self, envelope: &Envelope, reason: &str) -> anyhow::Result<()> {
        self.plumbing.park(CONSUMER, envelope, reason).await
    }
}
