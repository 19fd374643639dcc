//! Order events → the payments service's order replica, and the orders service's
//! decisions on authorized payments: `order:completed` captures the order's authorized
//! payment, `order:refused` voids the one it names. When an order is cancelled, money
//! already taken for it is refunded.

use boxoffice_common::Money;
use boxoffice_common::events::{
    Basket, Event, ORDER_CANCELLED, ORDER_COMPLETED, ORDER_CREATED, ORDER_REFUSED, OrderCreated,
};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::consumer::{EventHandler, Handled};
use boxoffice_platform::store::only;

use crate::domain::{OrderReplica, OrderState};
use crate::service::{OrderDecision, PaymentsService};
use crate::store::{Claim, ReplicaOutcome};

pub const CONSUMER: &str = "payments";
/// Not `order:extended`: a moved hold leaves an order open, which the replica already says,
/// and every event skipped here is one write less while buyers wait to pay.
pub const SUBSCRIBES_TO: &[&str] = &[ORDER_CREATED, ORDER_CANCELLED];
/// The second durable consumer, for the orders service's decisions on authorized payments
/// only: a payer's `POST /api/payments` waits for the capture or void that follows, and in an
/// on-sale the main consumer has thousands of `order:created` queued. Both subscriptions
/// feed one handler and one inbox ([`CONSUMER`]). A decision is about a payment, which
/// exists only for an order this service already knew, so it never needs an event of
/// the other subscription first (and if it did, it would be retried until it arrived).
pub const DECISION_CONSUMER: &str = "payments-decisions";
/// Event types [`DECISION_CONSUMER`] listens to.
pub const DECISION_EVENTS: &[&str] = &[ORDER_COMPLETED, ORDER_REFUSED];

#[derive(Debug, Clone)]
pub struct OrderEvents {
    service: PaymentsService,
}

impl OrderEvents {
    pub fn new(service: PaymentsService) -> Self {
        Self { service }
    }
}

/// A new order as the payments service keeps it: what paying for it charges is the sum of
/// its tickets' prices (the one ticket's price in an event from before baskets).
fn replica_of(order: &OrderCreated) -> OrderReplica {
    OrderReplica {
        id: order.id,
        user_id: order.user_id,
        amount: Money::from_minor(order.total()),
        state: OrderState::Open,
        version: order.version,
    }
}

fn handled(outcome: ReplicaOutcome) -> Handled {
    match outcome {
        ReplicaOutcome::Applied => Handled::Applied,
        ReplicaOutcome::Stale | ReplicaOutcome::Duplicate => Handled::Ignored,
    }
}

#[async_trait::async_trait]
impl EventHandler for OrderEvents {
    async fn handle(&self, event: &Envelope) -> anyhow::Result<Handled> {
        let store = self.service.store();
        let claim = Claim {
            consumer: CONSUMER,
            event_id: event.id,
        };
        let (id, version, state) = match event.event()? {
            // The group paths, for a group of one.
            Event::OrderCreated(_) => return only(self.new_orders(&[event]).await?),
            Event::OrderCompleted(_) | Event::OrderRefused(_) => {
                return only(self.decisions(&[event]).await?);
            }
            Event::OrderCancelled(order) => (order.id, order.version, OrderState::Cancelled),
            Event::TicketCreated(_)
            | Event::TicketUpdated(_)
            | Event::TicketDeleted(_)
            | Event::OrderExtended(_)
            | Event::ExpirationComplete(_)
            | Event::PaymentCreated(_)
            | Event::PaymentRefunded(_)
            | Event::PaymentPending(_)
            | Event::PaymentFailed(_)
            | Event::PaymentAuthorized(_)
            | Event::QueueLine(_)
            | Event::EventCreated(_)
            | Event::EventUpdated(_)
            | Event::SessionRevoked(_)
            | Event::UserSignedOutEverywhere(_)
            | Event::RoomGate(_)
            | Event::Unknown => return Ok(Handled::Ignored),
        };
        // Later events carry no buyer or amount: they update a known order.
        let Some(current) = store.order(id).await? else {
            return Ok(Handled::NotYet);
        };
        let replica = OrderReplica {
            version,
            state,
            ..current
        };
        let outcome = store.apply_order(claim, &replica).await?;
        // Refund even when the replica already knew (a redelivery after a failed refund).
        if outcome != ReplicaOutcome::Duplicate || state == OrderState::Cancelled {
            self.service
                .order_closed(id.into(), state)
                .await
                .map_err(|err| anyhow::anyhow!("refunding after {}: {err}", event.kind))?;
        }
        Ok(handled(outcome))
    }

    async fn park(&self, event: &Envelope, reason: &str) -> anyhow::Result<()> {
        self.service
            .store()
            .plumbing()
            .park(CONSUMER, event, reason)
            .await
    }

    /// New orders, which an on-sale publishes by the thousand, each only adding a row to
    /// the replica; and the decisions about authorized payments (on their own
    /// subscription, so never mixed with the former), whose verdicts are saved together
    /// and whose captures run side by side.
    fn can_group(&self, event: &Envelope) -> bool {
        [ORDER_CREATED, ORDER_COMPLETED, ORDER_REFUSED].contains(&event.kind.as_str())
    }

    async fn handle_group(&self, events: &[&Envelope]) -> anyhow::Result<Vec<Handled>> {
        if events.iter().all(|event| event.kind == ORDER_CREATED) {
            self.new_orders(events).await
        } else {
            self.decisions(events).await
        }
    }
}

impl OrderEvents {
    /// A group of `order:created`, in one transaction. A payment request may be waiting
    /// for each new order (read your writes): it is told once the order is committed.
    async fn new_orders(&self, events: &[&Envelope]) -> anyhow::Result<Vec<Handled>> {
        let mut replicas = Vec::with_capacity(events.len());
        for event in events {
            let Event::OrderCreated(order) = event.event()? else {
                anyhow::bail!("{} is not a new order", event.kind);
            };
            let claim = Claim {
                consumer: CONSUMER,
                event_id: event.id,
            };
            replicas.push((claim, replica_of(&order)));
        }
        let outcomes = self.service.store().apply_orders(&replicas).await?;
        for ((_, replica), outcome) in replicas.iter().zip(&outcomes) {
            if *outcome == ReplicaOutcome::Applied {
                self.service.fresh_ids().notify(replica.id);
            }
        }
        Ok(outcomes.into_iter().map(handled).collect())
    }

    /// A group of `order:completed` and `order:refused`, decided together. A completed
    /// order this service has not heard of yet waits (`NotYet`) outside the group.
    async fn decisions(&self, events: &[&Envelope]) -> anyhow::Result<Vec<Handled>> {
        let store = self.service.store();
        let mut outcomes = vec![Handled::NotYet; events.len()];
        let mut known = Vec::with_capacity(events.len());
        for (position, event) in events.iter().enumerate() {
            let claim = Claim {
                consumer: CONSUMER,
                event_id: event.id,
            };
            match event.event()? {
                Event::OrderCompleted(order) => {
                    if let Some(current) = store.order(order.id).await? {
                        let replica = OrderReplica {
                            version: order.version,
                            state: OrderState::Complete,
                            ..current
                        };
                        known.push((position, claim, Ok(replica)));
                    }
                }
                Event::OrderRefused(refused) => {
                    known.push((position, claim, Err((refused.payment_id, refused.reason))));
                }
                _ => anyhow::bail!("{} is not a decision about an order", event.kind),
            }
        }
        let decisions: Vec<(OrderDecision<'_>, Option<&str>)> = known
            .iter()
            .map(|(position, claim, decision)| {
                let decision = match decision {
                    Ok(replica) => OrderDecision::Completed {
                        claim: *claim,
                        replica,
                    },
                    Err((payment_id, reason)) => OrderDecision::Refused {
                        claim: *claim,
                        payment_id: *payment_id,
                        reason: *reason,
                    },
                };
                (decision, events[*position].request_id.as_deref())
            })
            .collect();
        let fresh = self.service.decide_all(&decisions).await?;
        for ((position, _, _), fresh) in known.iter().zip(fresh) {
            outcomes[*position] = if fresh {
                Handled::Applied
            } else {
                Handled::Ignored
            };
        }
        Ok(outcomes)
    }
}

#[cfg(test)]
mod tests {
    use boxoffice_common::events::OrderTicket;
    use boxoffice_common::new_id;
    use boxoffice_common::order::OrderStatus;
    use time::OffsetDateTime;

    use super::*;

    fn ticket(price: i64) -> OrderTicket {
        OrderTicket {
            id: new_id(),
            price: Some(price),
        }
    }

    #[test]
    fn paying_for_a_basket_charges_its_total_and_for_an_old_event_its_ticket() {
        let first = ticket(1250);
        let mut order = OrderCreated {
            id: new_id(),
            version: 0,
            status: OrderStatus::Created,
            user_id: new_id(),
            expires_at: OffsetDateTime::UNIX_EPOCH,
            ticket: first.clone(),
            tickets: vec![first, ticket(2000), ticket(5)],
        };
        assert_eq!(replica_of(&order).amount, Money::from_minor(3255));
        order.tickets.clear();
        assert_eq!(replica_of(&order).amount, Money::from_minor(1250));
    }
}
