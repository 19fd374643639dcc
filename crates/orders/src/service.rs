//! The orders use-cases: the domain decides, the store keeps, and this is where a domain
//! event payload becomes an [`Envelope`] for the outbox.

use std::sync::Arc;

use boxoffice_common::{Clock, Id, OrderId, TicketId, UserId, new_id};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::fresh::FreshIds;
use boxoffice_platform::http::admission::{ADMISSION_REQUIRED, AdmissionKeys};
use boxoffice_platform::metrics;
use boxoffice_platform::store::{Decision, Modified};
use boxoffice_platform::telemetry::names::{
    CLAIM_CONFLICTS, ORDERS_CANCELLED, ORDERS_PLACED, ORDERS_REFUSED,
};
use time::OffsetDateTime;

use crate::Config;
use crate::domain::{
    ALREADY_RESERVED, NEXT_IN_LINE, OWN_TICKET, Order, OrderError, OrderEvent, TicketReplica,
    refusal,
};
use crate::store::{AccountLimit, OrderStore, Placement};

/// The contract's refusal of an order past an open room's per-account limit (400).
pub const TICKET_LIMIT_REACHED: &str = "Ticket limit for this event reached";

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
    /// Verifies waiting-room admissions, locally (the queue service signs them).
    admissions: AdmissionKeys,
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
        admissions: AdmissionKeys,
    ) -> Self {
        Self {
            store,
            clock,
            config,
            fresh,
            admissions,
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
    ///
    /// While an event's waiting room is open, its tickets need one of `admissions` to be
    /// the buyer's valid admission to that event, and the buyer's tickets for the event
    /// (this order's included) must stay within the room's per-account limit — counted
    /// by the store in the inserting transaction.
    pub async fn place(
        &self,
        buyer: UserId,
        tickets: &[TicketId],
        admissions: &[String],
    ) -> Result<Order, OrdersError> {
        let placed = self.try_place(buyer, tickets, admissions).await;
        let refused = match &placed {
            Ok(_) => {
                metrics::counter!(ORDERS_PLACED).increment(1);
                None
            }
            Err(OrdersError::NotFound) => Some("not_found"),
            Err(OrdersError::Rule(OrderError::Refused(OWN_TICKET))) => Some("own_ticket"),
            Err(OrdersError::Rule(OrderError::Refused(NEXT_IN_LINE))) => Some("next_in_line"),
            Err(OrdersError::Rule(OrderError::Refused(ADMISSION_REQUIRED))) => Some("no_admission"),
            Err(OrdersError::Rule(OrderError::Refused(TICKET_LIMIT_REACHED))) => {
                Some("account_limit")
            }
            Err(OrdersError::Rule(OrderError::Refused(_))) => Some("reserved"),
            Err(_) => None,
        };
        if let Some(reason) = refused {
            metrics::counter!(ORDERS_REFUSED, "reason" => reason).increment(1);
        }
        placed
    }

    async fn try_place(
        &self,
        buyer: UserId,
        tickets: &[TicketId],
        admissions: &[String],
    ) -> Result<Order, OrdersError> {
        let ids: Vec<Id> = tickets.iter().map(|ticket| ticket.get()).collect();
        if let Some(refused) = self.refused_from_memory(buyer, &ids) {
            return Err(refused);
        }
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
        let limits = self.room_limits(buyer, &replicas, admissions).await?;
        let now = self.clock.now();
        let window = self.config.expiration_window;
        let (order, created) = Order::place(OrderId(new_id()), buyer, replicas, now, window)?;
        let event = envelope(OrderEvent::Created(created), now);
        match self.store.insert_within(&order, &event, &limits).await? {
            Placement::Placed => Ok(order),
            Placement::Held => {
                // Another order won a ticket between the look above and the insert.
                metrics::counter!(CLAIM_CONFLICTS).increment(1);
                Err(OrderError::Refused(ALREADY_RESERVED).into())
            }
            Placement::OverLimit => Err(OrderError::Refused(TICKET_LIMIT_REACHED).into()),
        }
    }

    /// The per-account limits an order for `tickets` must keep, one per event whose
    /// waiting room is open — or the refusal of a buyer who holds no valid admission of
    /// their own to such an event, or who asks for more of its tickets at once than the
    /// limit. Events without a room, or whose room has ended, add nothing.
    async fn room_limits(
        &self,
        buyer: UserId,
        tickets: &[TicketReplica],
        admissions: &[String],
    ) -> Result<Vec<AccountLimit>, OrdersError> {
        let mut events: Vec<Id> = tickets.iter().filter_map(|t| t.event_id).collect();
        events.sort_unstable();
        events.dedup();
        let mut limits = Vec::new();
        for event_id in events {
            let Some(gate) = self.store.room_gate(event_id).await? else {
                continue;
            };
            if !gate.open {
                continue;
            }
            let admitted = admissions.iter().any(|token| {
                self.admissions
                    .verify(token, buyer.get(), event_id)
                    .is_some()
            });
            if !admitted {
                return Err(OrderError::Refused(ADMISSION_REQUIRED).into());
            }
            let asked = tickets
                .iter()
                .filter(|t| t.event_id == Some(event_id))
                .count();
            let asked = u32::try_from(asked).unwrap_or(u32::MAX);
            if asked > gate.per_account_limit {
                return Err(OrderError::Refused(TICKET_LIMIT_REACHED).into());
            }
            limits.push(AccountLimit {
                event_id,
                limit: gate.per_account_limit,
                tickets: asked,
            });
        }
        Ok(limits)
    }

    /// The refusal [`place`](Self::place) would give, when the store's memory decides it
    /// alone: the first ticket asked for is known to memory and refused (deleted, the
    /// buyer's own, held) — the checks in the same order as the database path. A ticket
    /// memory does not know, or finds free (its line must be asked), gives `None`: the
    /// database path decides. Most attempts in an on-sale are for held tickets, and end
    /// here.
    fn refused_from_memory(&self, buyer: UserId, ids: &[Id]) -> Option<OrdersError> {
        let (replica, held) = self.store.recall(*ids.first()?)?;
        if replica.deleted {
            return Some(OrdersError::NotFound);
        }
        let refused = refusal(buyer, &replica, held, None, self.clock.now())?;
        Some(OrderError::Refused(refused).into())
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
            Modified::Saved(order) => {
                metrics::counter!(ORDERS_CANCELLED, "reason" => "user").increment(1);
                Ok(order)
            }
            Modified::Unchanged(order) => Ok(order),
            Modified::Refused(refusal) => Err(refusal.into()),
            Modified::Missing | Modified::Duplicate => Err(OrdersError::NotFound),
        }
    }
}
