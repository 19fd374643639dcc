//! What the orders service does with other services' events: keep the ticket replica
//! current (in version order), keep each ticket's line, and move orders along as their
//! hold ends and their payment progresses.

use std::sync::{Arc, Mutex};

use boxoffice_common::events::{
    EXPIRATION_COMPLETE, Event, PAYMENT_AUTHORIZED, PAYMENT_CREATED, PAYMENT_FAILED,
    PAYMENT_PENDING, PAYMENT_REFUNDED, QUEUE_LINE, ROOM_GATE, TICKET_CREATED, TICKET_DELETED,
    TICKET_UPDATED,
};
use boxoffice_common::{Clock, Id, Money};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::consumer::{EventHandler, Handled};
use boxoffice_platform::fresh::FreshIds;
use boxoffice_platform::metrics;
use boxoffice_platform::store::{Claim, Decision, Modified, only};
use boxoffice_platform::telemetry::names::{EXPIRATION_LAG, ORDERS_CANCELLED, ORDERS_COMPLETED};
use time::OffsetDateTime;

use crate::domain::{
    LineGate, Order, OrderEvent, RoomGate, TicketReplica, VersionCheck, check_version,
};
use crate::service::envelope;
use crate::store::{
    Change, OrderEdit, OrderModified, OrderStore, ReplicaDecision, ReplicaEdit, ReplicaOutcome,
};

/// Durable consumer name.
pub const CONSUMER: &str = "orders";
/// Event types the main consumer listens to.
pub const SUBSCRIBES_TO: &[&str] = &[
    TICKET_CREATED,
    TICKET_UPDATED,
    TICKET_DELETED,
    EXPIRATION_COMPLETE,
    QUEUE_LINE,
    ROOM_GATE,
];
/// The second durable consumer, for the payments service's events only. A buyer who pays
/// waits for the orders service's decision on `payment:authorized`; in an on-sale the main
/// consumer has thousands of ticket and line updates queued, and the decision used to wait
/// behind all of them. Both subscriptions feed the same handler and record events in the
/// same inbox ([`CONSUMER`]), so an event is applied once whichever delivers it. The
/// payment events of one order keep their order; against the main consumer's events an
/// order's changes were already decided by the state they find (an expiry and a payment
/// race either way, and the loser is refused, never charged).
pub const PAYMENT_CONSUMER: &str = "orders-payments";
/// Event types [`PAYMENT_CONSUMER`] listens to.
pub const PAYMENT_EVENTS: &[&str] = &[
    PAYMENT_PENDING,
    PAYMENT_FAILED,
    PAYMENT_AUTHORIZED,
    PAYMENT_CREATED,
    PAYMENT_REFUNDED,
];

/// The main subscription's events applied in groups: the replica's and the lines'.
const REPLICA_EVENTS: &[&str] = &[TICKET_CREATED, TICKET_UPDATED, QUEUE_LINE];

/// What an event does to an order; the event it publishes is what the domain returns.
#[derive(Debug, Clone, Copy)]
enum Transition {
    Expire,
    AwaitPayment,
    PaymentFailed,
    Complete,
    /// An authorized payment asks for the order: complete it or refuse.
    Decide {
        payment: Id,
    },
}

/// What a transition's change caused: per event it published, `None` for a completion
/// or the reason of a cancellation.
type Caused = Arc<Mutex<Vec<Option<&'static str>>>>;

#[derive(Debug, Clone)]
pub struct OrdersEvents {
    store: Arc<dyn OrderStore>,
    clock: Arc<dyn Clock>,
    /// How far a payment in flight may extend a hold.
    payment_ceiling: std::time::Duration,
    /// Requests of this process waiting for a ticket to reach the replica.
    fresh: FreshIds,
}

impl OrdersEvents {
    pub fn new(
        store: Arc<dyn OrderStore>,
        clock: Arc<dyn Clock>,
        payment_ceiling: std::time::Duration,
        fresh: FreshIds,
    ) -> Self {
        Self {
            store,
            clock,
            payment_ceiling,
            fresh,
        }
    }

    async fn replicate(
        &self,
        event: &Envelope,
        incoming: TicketReplica,
    ) -> anyhow::Result<Handled> {
        let ticket_id = incoming.id;
        let edit = replica_edit(event, incoming);
        let outcome = only(self.store.apply_to_replicas(vec![edit]).await?)?;
        Ok(self.replicated(ticket_id, outcome))
    }

    /// What a committed replica update means for the consumer.
    fn replicated(&self, ticket_id: Id, outcome: ReplicaOutcome) -> Handled {
        match outcome {
            ReplicaOutcome::Applied => {
                // Committed: a request of this process waiting for the ticket may go on.
                // (Other replicas hear of it from the store; see `PostgresOrderStore`.)
                self.fresh.notify(ticket_id);
                Handled::Applied
            }
            ReplicaOutcome::Kept | ReplicaOutcome::Duplicate => Handled::Ignored,
            ReplicaOutcome::NotYet => Handled::NotYet,
        }
    }

    /// The replica and line updates of `events` (listings, their changes and the lines
    /// an on-sale queues), in one transaction. `None` for an event that is neither.
    async fn replicas(&self, events: &[&Envelope]) -> anyhow::Result<Vec<Handled>> {
        let mut edits = Vec::with_capacity(events.len());
        // Per edit: the ticket whose replica it updates, or `None` for a line.
        let mut tickets = Vec::with_capacity(events.len());
        for event in events {
            let (edit, ticket) = match event.event()? {
                Event::TicketCreated(t) => {
                    let replica = listed(t.id, t.title, t.price, t.user_id, t.version, t.event_id);
                    (replica_edit(event, replica), Some(t.id))
                }
                Event::TicketUpdated(t) => {
                    let replica = listed(t.id, t.title, t.price, t.user_id, t.version, t.event_id);
                    (replica_edit(event, replica), Some(t.id))
                }
                Event::QueueLine(line) => {
                    let gate = LineGate {
                        ticket_id: line.ticket_id,
                        version: line.version,
                        waiting: line.waiting,
                        turn: line.turn.map(|turn| (turn.user_id, turn.expires_at)),
                    };
                    let claim = claim(event);
                    (ReplicaEdit::Line { claim, gate }, None)
                }
                _ => anyhow::bail!("not a replica or line update: {}", event.kind),
            };
            edits.push(edit);
            tickets.push(ticket);
        }
        let outcomes = self.store.apply_to_replicas(edits).await?;
        Ok(tickets
            .into_iter()
            .zip(outcomes)
            .map(|(ticket, outcome)| match ticket {
                Some(ticket_id) => self.replicated(ticket_id, outcome),
                None if outcome == ReplicaOutcome::Applied => Handled::Applied,
                None => Handled::Ignored,
            })
            .collect())
    }

    /// Applies a state-machine transition to an order and publishes what it caused.
    async fn transition(
        &self,
        event: &Envelope,
        order_id: Id,
        transition: Transition,
    ) -> anyhow::Result<Handled> {
        only(self.transitions(&[(event, order_id, transition)]).await?)
    }

    /// [`Self::transition`] for several events, in one transaction.
    async fn transitions(
        &self,
        moves: &[(&Envelope, Id, Transition)],
    ) -> anyhow::Result<Vec<Handled>> {
        let now = self.clock.now();
        let mut edits = Vec::with_capacity(moves.len());
        let mut caused_outcomes = Vec::with_capacity(moves.len());
        for &(event, order_id, transition) in moves {
            let (change, caused) = self.change_for(transition, now, event.request_id.clone());
            edits.push(OrderEdit {
                id: order_id,
                claim: Some(claim(event)),
                change,
            });
            caused_outcomes.push(caused);
        }
        let outcomes = self.store.modify_all(edits).await?;
        let mut handled = Vec::with_capacity(outcomes.len());
        for ((outcome, caused), &(_, _, transition)) in
            outcomes.into_iter().zip(caused_outcomes).zip(moves)
        {
            handled.push(self.transitioned(transition, outcome, &caused)?);
        }
        Ok(handled)
    }

    /// The change a transition makes, and where it leaves what it caused (for the order
    /// metrics, known only once committed). The events it publishes carry `request_id`,
    /// the triggering event's.
    fn change_for(
        &self,
        transition: Transition,
        now: OffsetDateTime,
        request_id: Option<String>,
    ) -> (Change, Caused) {
        let ceiling = self.payment_ceiling;
        let caused_outcomes: Caused = Arc::default();
        let outcomes = Arc::clone(&caused_outcomes);
        let change: Change = Box::new(move |order: &mut Order| {
            let caused: Vec<OrderEvent> = match transition {
                Transition::Expire => order
                    .expire(now)
                    .map(OrderEvent::Cancelled)
                    .into_iter()
                    .collect(),
                Transition::AwaitPayment => order
                    .await_payment(now, ceiling)
                    .map(OrderEvent::Extended)
                    .into_iter()
                    .collect(),
                Transition::PaymentFailed => order.payment_failed(now).into_iter().collect(),
                Transition::Complete => order
                    .complete()
                    .map(OrderEvent::Completed)
                    .into_iter()
                    .collect(),
                Transition::Decide { payment } => order.decide_payment(payment, now),
            };
            *outcomes
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = caused
                .iter()
                .filter_map(|event| match event {
                    OrderEvent::Completed(_) => Some(None),
                    OrderEvent::Cancelled(c) => Some(Some(c.reason.as_str())),
                    _ => None,
                })
                .collect();
            Ok(if caused.is_empty() {
                Decision::Keep
            } else {
                Decision::Save(caused.into_iter().map(|c| envelope(c, now)).collect())
                    .carrying(request_id.as_deref())
            })
        });
        (change, caused_outcomes)
    }

    /// What a committed transition means for the consumer, counted in the metrics.
    fn transitioned(
        &self,
        transition: Transition,
        outcome: OrderModified,
        caused: &Caused,
    ) -> anyhow::Result<Handled> {
        Ok(match outcome {
            Modified::Saved(order) => {
                let caused = std::mem::take(
                    &mut *caused
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner),
                );
                for cancelled in caused {
                    match cancelled {
                        None => metrics::counter!(ORDERS_COMPLETED).increment(1),
                        Some(reason) => {
                            metrics::counter!(ORDERS_CANCELLED, "reason" => reason).increment(1);
                        }
                    }
                }
                if matches!(transition, Transition::Expire) {
                    let late = (self.clock.now() - order.expires_at).as_seconds_f64();
                    metrics::histogram!(EXPIRATION_LAG).record(late.max(0.0));
                }
                Handled::Applied
            }
            Modified::Unchanged(_) | Modified::Duplicate | Modified::Missing => Handled::Ignored,
            Modified::Refused(refusal) => anyhow::bail!("unexpected refusal: {refusal}"),
        })
    }
}

/// The order a payment event moves and how; `None` for a refund, which changes nothing
/// here (the order it was for is already final).
fn payment_move(event: &Event) -> Option<(Id, Transition)> {
    Some(match event {
        Event::PaymentPending(data) => (data.order_id, Transition::AwaitPayment),
        Event::PaymentFailed(data) => (data.order_id, Transition::PaymentFailed),
        Event::PaymentAuthorized(data) => {
            let payment = data.id;
            (data.order_id, Transition::Decide { payment })
        }
        // Money for an order that can no longer complete is refunded by the payments
        // service when it sees the order's final state.
        Event::PaymentCreated(data) => (data.order_id, Transition::Complete),
        _ => return None,
    })
}

/// A listed ticket as `ticket:created` and `ticket:updated` describe it.
fn listed(
    id: Id,
    title: String,
    price: i64,
    seller: Id,
    version: i64,
    event_id: Option<Id>,
) -> TicketReplica {
    TicketReplica {
        id,
        title,
        price: Money::from_minor(price),
        user_id: seller,
        version,
        deleted: false,
        event_id,
    }
}

/// The update of a ticket's replica to `incoming`, applied in version order.
fn replica_edit(event: &Envelope, incoming: TicketReplica) -> ReplicaEdit<'static> {
    ReplicaEdit::Ticket {
        id: incoming.id,
        claim: claim(event),
        change: Box::new(move |current: Option<&TicketReplica>| {
            match check_version(current.map(|c| c.version), incoming.version) {
                VersionCheck::Apply => ReplicaDecision::Upsert(incoming),
                VersionCheck::Stale => ReplicaDecision::Keep,
                VersionCheck::Early => ReplicaDecision::NotYet,
            }
        }),
    }
}

/// The inbox entry this consumer records `event` under.
fn claim(event: &Envelope) -> Claim<'static> {
    Claim {
        consumer: CONSUMER,
        event_id: event.id,
    }
}

#[async_trait::async_trait]
impl EventHandler for OrdersEvents {
    async fn handle(&self, event: &Envelope) -> anyhow::Result<Handled> {
        match event.event()? {
            Event::TicketCreated(_) | Event::TicketUpdated(_) | Event::QueueLine(_) => {
                only(self.replicas(&[event]).await?)
            }
            Event::TicketDeleted(t) => {
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
            Event::RoomGate(room) => {
                let gate = RoomGate {
                    event_id: room.event_id,
                    version: room.version,
                    open: room.open,
                    per_account_limit: room.per_account_limit,
                };
                let outcome = self.store.apply_room_gate(claim(event), &gate).await?;
                Ok(match outcome {
                    ReplicaOutcome::Applied => Handled::Applied,
                    _ => Handled::Ignored,
                })
            }
            Event::ExpirationComplete(data) => {
                self.transition(event, data.order_id, Transition::Expire)
                    .await
            }
            payment @ (Event::PaymentPending(_)
            | Event::PaymentFailed(_)
            | Event::PaymentAuthorized(_)
            | Event::PaymentCreated(_)
            | Event::PaymentRefunded(_)) => match payment_move(&payment) {
                Some((order_id, transition)) => self.transition(event, order_id, transition).await,
                None => Ok(Handled::Ignored),
            },
            Event::OrderCreated(_)
            | Event::OrderCancelled(_)
            | Event::OrderCompleted(_)
            | Event::OrderExtended(_)
            | Event::OrderRefused(_)
            | Event::EventCreated(_)
            | Event::EventUpdated(_)
            | Event::SessionRevoked(_)
            | Event::UserSignedOutEverywhere(_)
            | Event::Unknown => Ok(Handled::Ignored),
        }
    }

    async fn park(&self, event: &Envelope, reason: &str) -> anyhow::Result<()> {
        self.store.plumbing().park(CONSUMER, event, reason).await
    }

    /// The payments service's events (their own subscription): each moves one order, so
    /// a queue of them — an on-sale's authorizations — is applied in one transaction. So
    /// are the ticket replica's and the lines' updates on the main subscription. The two
    /// subscriptions are two consumers, so a group holds one kind or the other.
    fn can_group(&self, event: &Envelope) -> bool {
        PAYMENT_EVENTS.contains(&event.kind.as_str())
            || REPLICA_EVENTS.contains(&event.kind.as_str())
    }

    async fn handle_group(&self, events: &[&Envelope]) -> anyhow::Result<Vec<Handled>> {
        let is = |kinds: &[&str]| events.iter().all(|e| kinds.contains(&e.kind.as_str()));
        if is(REPLICA_EVENTS) {
            return self.replicas(events).await;
        }
        anyhow::ensure!(is(PAYMENT_EVENTS), "a group of mixed events");
        let mut outcomes = vec![Handled::Ignored; events.len()];
        let mut moves = Vec::with_capacity(events.len());
        let mut positions = Vec::with_capacity(events.len());
        for (position, event) in events.iter().enumerate() {
            if let Some((order_id, transition)) = payment_move(&event.event()?) {
                moves.push((*event, order_id, transition));
                positions.push(position);
            }
        }
        if moves.is_empty() {
            return Ok(outcomes);
        }
        let handled = self.transitions(&moves).await?;
        for (position, handled) in positions.into_iter().zip(handled) {
            outcomes[position] = handled;
        }
        Ok(outcomes)
    }
}
