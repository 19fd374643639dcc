//! The orders use-cases: the domain decides, the store keeps, and this is where a domain
//! event payload becomes an [`Envelope`] for the outbox.

use std::sync::Arc;
use std::time::Duration;

use boxoffice_common::{Clock, OrderId, TicketId, UserId, new_id};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::fresh::FreshIds;
use boxoffice_platform::store::{Decision, Modified};
use time::OffsetDateTime;

use crate::domain::{ALREADY_RESERVED, NEXT_IN_LINE, Order, OrderError, OrderEvent};
use crate::store::OrderStore;

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
    /// Waits for tickets listed moments ago that the replica has not applied yet.
    fresh: FreshIds,
}

/// The envelope an order event travels in; the one way this service publishes.
pub fn envelope(event: OrderEvent, now: OffsetDateTime) -> Envelope {
    match event {
        OrderEvent::Created(data) => Envelope::new(SOURCE, now, &data),
        OrderEvent::Extended(data) => Envelope::new(SOURCE, now, &data),
        OrderEvent::Cancelled(data) => Envelope::new(SOURCE, now, &data),
        OrderEvent::Completed(data) => Envelope::new(SOURCE, now, &data),
        OrderEvent::Refused(data) => Envelope::new(SOURCE, now, &data),
    }
}

impl OrdersService {
    pub fn new(
        store: Arc<dyn OrderStore>,
        clock: Arc<dyn Clock>,
        window: Duration,
        fresh: FreshIds,
    ) -> Self {
        Self {
            store,
            clock,
            window,
            fresh,
        }
    }

    pub fn store(&self) -> &Arc<dyn OrderStore> {
        &self.store
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Places an order for a ticket. Exactly one concurrent buyer wins: the store's
    /// unique index admits one live order per ticket. A ticket listed moments ago that the
    /// replica has not applied yet is waited for (bounded), so a client may order a
    /// ticket the moment `POST /api/tickets` returned it.
    pub async fn place(&self, buyer: UserId, ticket: TicketId) -> Result<Order, OrdersError> {
        let (replica, line) = self
            .fresh
            .lookup(ticket.get(), || self.store.ticket_with_line(ticket.get()))
            .await?
            .filter(|(t, _)| !t.deleted)
            .ok_or(OrdersError::NotFound)?;
        let now = self.clock.now();
        let (order, created) = Order::place(OrderId(new_id()), buyer, replica, now, self.window)?;
        if let Some(gate) = line
            && !gate.admits(buyer, now)
        {
            // A held ticket is simply reserved; a free one waits for the line's next buyer.
            let refusal = if self.store.is_held(ticket.get()).await? {
                ALREADY_RESERVED
            } else {
                NEXT_IN_LINE
            };
            return Err(OrderError::Refused(refusal).into());
        }
        if self
            .store
            .insert(&order, &envelope(OrderEvent::Created(created), now))
            .await?
        {
            Ok(order)
        } else {
            Err(OrderError::Refused(ALREADY_RESERVED).into())
        }
    }

    /// The buyer's orders, oldest first.
    pub async fn list(&self, buyer: UserId) -> Result<Vec<Order>, OrdersError> {
        Ok(self.store.for_user(buyer.get()).await?)
    }

    /// One order, for its buyer only.
    pub async fn get(&self, buyer: UserId, id: OrderId) -> Result<Order, OrdersError> {
        let order = self
            .store
            .get(id.get())
            .await?
            .ok_or(OrdersError::NotFound)?;
        if order.user_id != buyer.get() {
            return Err(OrderError::NotOwner.into());
        }
        Ok(order)
    }

    /// The buyer cancels a live order; its ticket is freed.
    pub async fn cancel(&self, buyer: UserId, id: OrderId) -> Result<Order, OrdersError> {
        let now = self.clock.now();
        let outcome = self
            .store
            .modify(
                id.get(),
                None,
                Box::new(move |order: &mut Order| {
                    let cancelled = order.cancel_by(buyer)?;
                    Ok(Decision::Save(vec![envelope(
                        OrderEvent::Cancelled(cancelled),
                        now,
                    )]))
                }),
            )
            .await?;
        match outcome {
            Modified::Saved(order) | Modified::Unchanged(order) => Ok(order),
            Modified::Refused(refusal) => Err(refusal.into()),
            Modified::Missing | Modified::Duplicate => Err(OrdersError::NotFound),
        }
    }
}
