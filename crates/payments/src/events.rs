//! Order events → the payments service's order replica. When an order is cancelled,
//! money already taken for it is refunded.

use boxoffice_common::Money;
use boxoffice_common::events::{
    ORDER_CANCELLED, ORDER_COMPLETED, ORDER_CREATED, OrderCancelled, OrderCompleted, OrderCreated,
};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::consumer::{EventHandler, Handled};

use crate::domain::{OrderReplica, OrderState};
use crate::service::PaymentsService;
use crate::store::ReplicaOutcome;

pub const CONSUMER: &str = "payments";
/// Not `order:extended`: a moved hold leaves an order open, which the replica already says,
/// and every event skipped here is one write less while buyers wait to pay.
pub const SUBSCRIBES_TO: &[&str] = &[ORDER_CREATED, ORDER_CANCELLED, ORDER_COMPLETED];

#[derive(Debug, Clone)]
pub struct OrderEvents {
    service: PaymentsService,
}

impl OrderEvents {
    pub fn new(service: PaymentsService) -> Self {
        Self { service }
    }
}

#[async_trait::async_trait]
impl EventHandler for OrderEvents {
    async fn handle(&self, event: &Envelope) -> anyhow::Result<Handled> {
        let store = self.service.store();
        let (id, version, state) = match event.kind.as_str() {
            ORDER_CREATED => {
                let order: OrderCreated = event.data()?;
                let replica = OrderReplica {
                    id: order.id,
                    user_id: order.user_id,
                    amount: Money::from_minor(order.ticket.price.unwrap_or_default()),
                    state: OrderState::Open,
                    version: order.version,
                };
                return Ok(
                    match store.apply_order(CONSUMER, event.id, &replica).await? {
                        ReplicaOutcome::Applied => Handled::Applied,
                        ReplicaOutcome::Stale | ReplicaOutcome::Duplicate => Handled::Ignored,
                    },
                );
            }
            ORDER_CANCELLED => {
                let order: OrderCancelled = event.data()?;
                (order.id, order.version, OrderState::Cancelled)
            }
            ORDER_COMPLETED => {
                let order: OrderCompleted = event.data()?;
                (order.id, order.version, OrderState::Complete)
            }
            _ => return Ok(Handled::Ignored),
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
        let outcome = store.apply_order(CONSUMER, event.id, &replica).await?;
        // Refund even when the replica already knew (a redelivery after a failed refund).
        if outcome != ReplicaOutcome::Duplicate || state == OrderState::Cancelled {
            self.service
                .order_closed(id, state)
                .await
                .map_err(|err| anyhow::anyhow!("refunding after {}: {err}", event.kind))?;
        }
        Ok(match outcome {
            ReplicaOutcome::Applied => Handled::Applied,
            ReplicaOutcome::Stale | ReplicaOutcome::Duplicate => Handled::Ignored,
        })
    }

    async fn park(&self, event: &Envelope, reason: &str) -> anyhow::Result<()> {
        self.service.store().park(CONSUMER, event, reason).await
    }
}
