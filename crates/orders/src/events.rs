//! What the orders service does with other services' events: keep the ticket replica
//! current (in version order) and expire orders whose hold ran out.

use std::sync::Arc;

use boxoffice_common::Id;
use boxoffice_common::events::{
    EXPIRATION_COMPLETE, ExpirationComplete, PAYMENT_CREATED, PAYMENT_FAILED, PAYMENT_PENDING,
    PAYMENT_REFUNDED, PaymentCreated, PaymentFailed, PaymentPending, QUEUE_LINE, QueueLine,
    TICKET_CREATED, TICKET_DELETED, TICKET_UPDATED, TicketCreated, TicketDeleted, TicketUpdated,
};
use boxoffice_common::{Clock, Money};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::consumer::{EventHandler, Handled};

use crate::domain::OrderStatus;
use crate::domain::{LineGate, Order, TicketReplica, VersionCheck, check_version};
use crate::service::{cancelled_event, completed_event, extended_event};
use crate::store::{Claim, Decision, Modified, OrderStore, ReplicaDecision, ReplicaOutcome};

/// Durable consumer name.
pub const CONSUMER: &str = "orders";
/// Event types this service listens to.
pub const SUBSCRIBES_TO: &[&str] = &[
    TICKET_CREATED,
    TICKET_UPDATED,
    TICKET_DELETED,
    EXPIRATION_COMPLETE,
    PAYMENT_PENDING,
    PAYMENT_FAILED,
    PAYMENT_CREATED,
    PAYMENT_REFUNDED,
    QUEUE_LINE,
];

/// What an event does to an order; the event it publishes follows from the result.
#[derive(Debug, Clone, Copy)]
enum Transition {
    Expire,
    AwaitPayment,
    PaymentFailed,
    Complete,
}

#[derive(Debug, Clone)]
pub struct OrdersEvents {
    store: Arc<dyn OrderStore>,
    clock: Arc<dyn Clock>,
    /// How far a payment in flight may extend a hold.
    payment_ceiling: std::time::Duration,
}

impl OrdersEvents {
    pub fn new(
        store: Arc<dyn OrderStore>,
        clock: Arc<dyn Clock>,
        payment_ceiling: std::time::Duration,
    ) -> Self {
        Self {
            store,
            clock,
            payment_ceiling,
        }
    }

    async fn replicate(
        &self,
        event: &Envelope,
        incoming: TicketReplica,
    ) -> anyhow::Result<Handled> {
        let claim = Claim {
            consumer: CONSUMER,
            event_id: event.id,
        };
        let ticket_id = incoming.id;
        let outcome = self
            .store
            .apply_to_replica(
                ticket_id,
                claim,
                Box::new(move |current: Option<&TicketReplica>| {
                    match check_version(current.map(|c| c.version), incoming.version) {
                        VersionCheck::Apply => ReplicaDecision::Upsert(incoming),
                        VersionCheck::Stale => ReplicaDecision::Keep,
                        VersionCheck::Early => ReplicaDecision::NotYet,
                    }
                }),
            )
            .await?;
        Ok(match outcome {
            ReplicaOutcome::Applied => Handled::Applied,
            ReplicaOutcome::Kept | ReplicaOutcome::Duplicate => Handled::Ignored,
            ReplicaOutcome::NotYet => Handled::NotYet,
        })
    }

    /// Applies a state-machine transition to an order and publishes what it caused.
    async fn transition(
        &self,
        event: &Envelope,
        order_id: Id,
        transition: Transition,
    ) -> anyhow::Result<Handled> {
        let now = self.clock.now();
        let ceiling = self.payment_ceiling;
        let claim = Claim {
            consumer: CONSUMER,
            event_id: event.id,
        };
        let outcome = self
            .store
            .modify(
                order_id,
                Some(claim),
                Box::new(move |order: &mut Order| {
                    let changed = match transition {
                        Transition::Expire => order.expire(now),
                        Transition::AwaitPayment => order.await_payment(now, ceiling),
                        Transition::PaymentFailed => order.payment_failed(now),
                        Transition::Complete => order.complete(),
                    };
                    if !changed {
                        return Ok(Decision::Keep);
                    }
                    let event = match order.status {
                        OrderStatus::Cancelled => cancelled_event(order, now),
                        OrderStatus::Complete => completed_event(order, now),
                        OrderStatus::Created | OrderStatus::AwaitingPayment => {
                            extended_event(order, now)
                        }
                    };
                    Ok(Decision::Save(vec![event]))
                }),
            )
            .await?
            .map_err(|refusal| anyhow::anyhow!("unexpected refusal: {refusal}"))?;
        Ok(match outcome {
            Modified::Saved(_) => Handled::Applied,
            _ => Handled::Ignored,
        })
    }
}

#[async_trait::async_trait]
impl EventHandler for OrdersEvents {
    async fn handle(&self, event: &Envelope) -> anyhow::Result<Handled> {
        match event.kind.as_str() {
            TICKET_CREATED => {
                let t: TicketCreated = event.data()?;
                let replica = TicketReplica {
                    id: t.id,
                    title: t.title,
                    price: Money::from_minor(t.price),
                    user_id: t.user_id,
                    version: t.version,
                    deleted: false,
                };
                self.replicate(event, replica).await
            }
            TICKET_UPDATED => {
                let t: TicketUpdated = event.data()?;
                let replica = TicketReplica {
                    id: t.id,
                    title: t.title,
                    price: Money::from_minor(t.price),
                    user_id: t.user_id,
                    version: t.version,
                    deleted: false,
                };
                self.replicate(event, replica).await
            }
            TICKET_DELETED => {
                let t: TicketDeleted = event.data()?;
                let Some(current) = self.store.ticket(t.id).await? else {
                    return Ok(Handled::NotYet);
                };
                let replica = TicketReplica {
                    version: t.version,
                    deleted: true,
                    ..current
                };
                self.replicate(event, replica).await
            }
            QUEUE_LINE => {
                let line: QueueLine = event.data()?;
                let gate = LineGate {
                    ticket_id: line.ticket_id,
                    version: line.version,
                    waiting: line.waiting,
                    turn: line.turn.map(|turn| (turn.user_id, turn.expires_at)),
                };
                let claim = Claim {
                    consumer: CONSUMER,
                    event_id: event.id,
                };
                Ok(match self.store.apply_line_gate(claim, &gate).await? {
                    ReplicaOutcome::Applied => Handled::Applied,
                    _ => Handled::Ignored,
                })
            }
            EXPIRATION_COMPLETE => {
                let data: ExpirationComplete = event.data()?;
                self.transition(event, data.order_id, Transition::Expire)
                    .await
            }
            PAYMENT_PENDING => {
                let data: PaymentPending = event.data()?;
                self.transition(event, data.order_id, Transition::AwaitPayment)
                    .await
            }
            PAYMENT_FAILED => {
                let data: PaymentFailed = event.data()?;
                self.transition(event, data.order_id, Transition::PaymentFailed)
                    .await
            }
            PAYMENT_CREATED => {
                // Money for an order that can no longer complete is refunded by the
                // payments service when it sees the order's final state.
                let data: PaymentCreated = event.data()?;
                self.transition(event, data.order_id, Transition::Complete)
                    .await
            }
            _ => Ok(Handled::Ignored),
        }
    }

    async fn park(&self, event: &Envelope, reason: &str) -> anyhow::Result<()> {
        self.store.park(CONSUMER, event, reason).await
    }
}
