//! The orders use-cases.

use std::sync::Arc;
use std::time::Duration;

use boxoffice_common::events::{
    OrderCancelled, OrderCompleted, OrderCreated, OrderExtended, OrderTicket,
};
use boxoffice_common::{Clock, Id, new_id};
use boxoffice_platform::bus::Envelope;

use crate::domain::{
    ALREADY_RESERVED, NEXT_IN_LINE, OWN_TICKET, Order, OrderError, OrderStatus, OrderedTicket,
};
use crate::store::{Decision, Modified, OrderStore};

/// Name of this service in event envelopes.
pub const SOURCE: &str = "orders";

#[derive(Debug, thiserror::Error)]
pub enum OrdersError {
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Rule(#[from] OrderError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Cheap to clone; shared by every request.
#[derive(Debug, Clone)]
pub struct OrdersService {
    store: Arc<dyn OrderStore>,
    clock: Arc<dyn Clock>,
    /// How long a new order holds its ticket.
    window: Duration,
}

/// The `order:cancelled` event for an order as it is now.
pub fn cancelled_event(order: &Order, now: time::OffsetDateTime) -> Envelope {
    Envelope::new(
        SOURCE,
        now,
        &OrderCancelled {
            id: order.id,
            version: order.version,
            reason: order
                .cancel_reason
                .map_or("user", |r| r.as_str())
                .to_owned(),
            ticket: OrderTicket {
                id: order.ticket.id,
                price: None,
            },
        },
    )
}

/// The `order:extended` event for an order whose hold end moved.
pub fn extended_event(order: &Order, now: time::OffsetDateTime) -> Envelope {
    Envelope::new(
        SOURCE,
        now,
        &OrderExtended {
            id: order.id,
            version: order.version,
            status: order.status.as_str().to_owned(),
            expires_at: order.expires_at,
            ticket: OrderTicket {
                id: order.ticket.id,
                price: Some(order.ticket.price.minor()),
            },
        },
    )
}

/// The `order:completed` event for a paid order.
pub fn completed_event(order: &Order, now: time::OffsetDateTime) -> Envelope {
    Envelope::new(
        SOURCE,
        now,
        &OrderCompleted {
            id: order.id,
            version: order.version,
            ticket: OrderTicket {
                id: order.ticket.id,
                price: None,
            },
        },
    )
}

impl OrdersService {
    pub fn new(store: Arc<dyn OrderStore>, clock: Arc<dyn Clock>, window: Duration) -> Self {
        Self {
            store,
            clock,
            window,
        }
    }

    pub fn store(&self) -> &Arc<dyn OrderStore> {
        &self.store
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Places an order for a ticket. Exactly one concurrent buyer wins: the store's
    /// unique index admits one live order per ticket.
    pub async fn place(&self, buyer: Id, ticket_id: Id) -> Result<Order, OrdersError> {
        let (ticket, line) = self
            .store
            .ticket_with_line(ticket_id)
            .await?
            .filter(|(t, _)| !t.deleted)
            .ok_or(OrdersError::NotFound)?;
        if ticket.user_id == buyer {
            return Err(OrderError::Refused(OWN_TICKET).into());
        }
        let now = self.clock.now();
        if let Some(gate) = line
            && !gate.admits(buyer, now)
        {
            // A held ticket is simply reserved; a free one waits for the line's next buyer.
            let refusal = if self.store.is_held(ticket_id).await? {
                ALREADY_RESERVED
            } else {
                NEXT_IN_LINE
            };
            return Err(OrderError::Refused(refusal).into());
        }
        let order = Order {
            id: new_id(),
            user_id: buyer,
            ticket: OrderedTicket {
                id: ticket.id,
                title: ticket.title,
                price: ticket.price,
                version: ticket.version,
            },
            status: OrderStatus::Created,
            expires_at: now + self.window,
            hold_until: now + self.window,
            version: 0,
            created_at: now,
            cancel_reason: None,
        };
        let event = Envelope::new(
            SOURCE,
            now,
            &OrderCreated {
                id: order.id,
                version: order.version,
                status: order.status.as_str().to_owned(),
                user_id: order.user_id,
                expires_at: order.expires_at,
                ticket: OrderTicket {
                    id: ticket.id,
                    price: Some(order.ticket.price.minor()),
                },
            },
        );
        if self.store.insert(&order, &event).await? {
            Ok(order)
        } else {
            Err(OrderError::Refused(ALREADY_RESERVED).into())
        }
    }

    /// The buyer's orders, oldest first.
    pub async fn list(&self, buyer: Id) -> Result<Vec<Order>, OrdersError> {
        Ok(self.store.for_user(buyer).await?)
    }

    /// One order, for its buyer only.
    pub async fn get(&self, buyer: Id, id: Id) -> Result<Order, OrdersError> {
        let order = self.store.get(id).await?.ok_or(OrdersError::NotFound)?;
        if order.user_id != buyer {
            return Err(OrderError::NotOwner.into());
        }
        Ok(order)
    }

    /// The buyer cancels a live order; its ticket is freed.
    pub async fn cancel(&self, buyer: Id, id: Id) -> Result<Order, OrdersError> {
        let now = self.clock.now();
        let outcome = self
            .store
            .modify(
                id,
                None,
                Box::new(move |order: &mut Order| {
                    order.cancel_by(buyer)?;
                    Ok(Decision::Save(vec![cancelled_event(order, now)]))
                }),
            )
            .await??;
        match outcome {
            Modified::Saved(order) | Modified::Unchanged(order) => Ok(order),
            Modified::Missing | Modified::Duplicate => Err(OrdersError::NotFound),
        }
    }
}
