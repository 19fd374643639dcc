//! The orders service: who holds which ticket (CONTRACT.md §5).
//!
//! * [`parts`] — the service as a process runs it: routes, its `/readyz` probe, its
//!   consumer and its outbox, for the composition root to launch.
//! * [`domain`] — `Order` and its state machine (each transition returns the event it
//!   causes); the ticket replica, its version rule and the line gate. Pure.
//! * [`service`] — the use-cases: place, list, show, cancel; wraps domain events in envelopes.
//! * [`events`] — ticket events → replica; `queue:line` → line gate; `room:gate` → an
//!   event's waiting room (admission needed, per-account limit); expiry and payment
//!   events → order transitions.
//! * [`http`] — the `/api/orders` routes with their OpenAPI descriptions.
//! * [`store`] — the `OrderStore` trait with SQLite and PostgreSQL implementations sharing
//!   one set of SQL statements; the unique index that decides the one holder.

pub mod domain;
pub mod events;
pub mod http;
pub mod service;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use boxoffice_common::Clock;
use boxoffice_platform::fresh::FreshIds;
use boxoffice_platform::http::admission::AdmissionKeys;
use boxoffice_platform::runtime::ServiceParts;
use boxoffice_platform::store::StoreProbe;
pub use service::OrdersService;
use tokio::sync::Notify;

use crate::events::OrdersEvents;
use crate::store::OrderStore;

/// The orders service's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// How long a new order holds its ticket.
    pub expiration_window: Duration,
    /// How far a payment in flight may extend a hold.
    pub payment_hold_ceiling: Duration,
    /// The most tickets one order may hold.
    pub max_tickets_per_order: usize,
}

/// The orders service on `store`: its routes, the `orders-db` readiness probe, the
/// `orders` consumer (ticket, line, expiry and payment events) and the relay of its
/// outbox, woken by `wake` — the notice the store gives after each commit that wrote
/// to the outbox. It has no timers of its own: expiry arrives as an event.
///
/// `admissions` verifies the waiting-room admissions an order for the tickets of an event
/// with an open room needs.
///
/// `fresh` lets an order for a ticket listed moments ago wait for the ticket replica;
/// the consumer wakes it. With several replicas on PostgreSQL the process must also run
/// `boxoffice_platform::fresh::postgres::listen` for it (the composition root does).
pub fn parts(
    store: Arc<dyn OrderStore>,
    wake: Arc<Notify>,
    clock: Arc<dyn Clock>,
    config: Config,
    fresh: FreshIds,
    admissions: AdmissionKeys,
) -> ServiceParts {
    let service = OrdersService::new(
        Arc::clone(&store),
        Arc::clone(&clock),
        config,
        fresh.clone(),
        admissions,
    );
    let handler = OrdersEvents::new(
        Arc::clone(&store),
        clock,
        config.payment_hold_ceiling,
        fresh.clone(),
    );
    ServiceParts::new(
        "orders",
        http::router(service),
        vec![StoreProbe::new("orders-db", store.plumbing())],
    )
    .consumer(
        events::PAYMENT_CONSUMER,
        events::PAYMENT_EVENTS,
        Arc::new(handler.clone()),
    )
    .consumer(events::CONSUMER, events::SUBSCRIBES_TO, Arc::new(handler))
    .events(store.plumbing(), wake)
    .fresh_ids(fresh)
}
