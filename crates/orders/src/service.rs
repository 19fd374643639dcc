//! The orders use-cases: the domain decides, the store keeps, and this is where a domain
//! event payload becomes an [`Envelope`] for the outbox.

use std::sync::Arc;

use boxoffice_common::{Clock, Id, OrderId, TicketId, UserId, new_id};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::fresh::FreshIds;
use boxoffice_platform::store::{Decision, Modified};
use time::OffsetDateTime;

use crate::Config;
use crate::domain::{ALREADY_RESERVED, Order, OrderError, OrderEvent, refusal};
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
    /// The hold's length and the basket's largest size.
    config: Config,
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
        config: Config,
        fresh: FreshIds,
    ) -> Self {
        Self {
            store,
            clock,
            config,
            fresh,
        }
    }

    /// The most tickets one order may hold.
    pub fn max_tickets(&self) -> usize {
        self.config.max_tickets_per_order
    }

    pub fn store(&self) -> &Arc<dyn OrderStore> {
        &self.store
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Places one order for `tickets` (distinct, at least one), all or nothing: the
    /// store holds every one of them for the new order in one transaction, or none. The
    /// refusal is that of the first ticket, in the order asked, that cannot be had: not
    /// found, the buyer's own, held, or another buyer's turn in its line. Concurrent
    /// buyers of overlapping baskets cannot both win a ticket: the store's primary key on
    /// held tickets decides. A ticket listed moments ago that the replica has not applied
    /// yet is waited for (bounded), so a client may order a ticket the moment
    /// `POST /api/tickets` returned it.
    pub async fn place(&self, buyer: UserId, tickets: &[TicketId]) -> Result<Order, OrdersError> {
        let ids: Vec<Id> = tickets.iter().map(|ticket| ticket.get()).collect();
        let held = self.store.held_among(&ids).await?;
        let mut replicas = Vec::with_capacity(ids.len());
        for &id in &ids {
            let (replica, line) = self
                .fresh
                .lookup(id, || self.store.ticket_with_line(id))
                .await?
                .filter(|(ticket, _)| !ticket.deleted)
                .ok_or(OrdersError::NotFound)?;
            let now = self.clock.now();
            if let Some(refused) = refusal(buyer, &replica, held.contains(&id), line.as_ref(), now)
            {
                return Err(OrderError::Refused(refused).into());
            }
            replicas.push(replica);
        }
        let now = self.clock.now();
        let window = self.config.expiration_window;
        let (order, created) = Order::place(OrderId(new_id()), buyer, replicas, now, window)?;
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
