//! The expiration service: ends holds that were not paid in time.
//!
//! * [`parts`] — the service as the composition root runs it: the `expiration-db`
//!   probe, the order-event consumer, the outbox relay and the scheduler, supervised.
//! * [`events`] — `order:created` / `order:extended` → a durable job due at the order's
//!   `expiresAt`.
//! * [`scheduler`] — the worker that sleeps until the next job is due and publishes
//!   `expiration:complete` for it (through the outbox, in the transaction that takes it).
//! * [`store`] — the `JobStore` trait with SQLite and PostgreSQL (`SKIP LOCKED`) versions
//!   over one set of SQL statements.
//!
//! It has no HTTP routes of its own.

pub mod events;
pub mod scheduler;
pub mod store;

use std::sync::Arc;

use boxoffice_common::Clock;
use boxoffice_platform::runtime::ServiceParts;
use boxoffice_platform::store::StoreProbe;
use tokio::sync::Notify;
use utoipa_axum::router::OpenApiRouter;

use crate::events::{CONSUMER, OrderEvents, SUBSCRIBES_TO};
use crate::scheduler::Scheduler;
use crate::store::JobStore;

/// Name of this service in event envelopes.
pub const SOURCE: &str = "expiration";

/// The expiration service on `store`, whose outbox writes notify `wake`.
pub fn parts(store: Arc<dyn JobStore>, wake: Arc<Notify>, clock: Arc<dyn Clock>) -> ServiceParts {
    // A new job may be due before the one the scheduler sleeps towards: the consumer
    // wakes it.
    let scheduled = Arc::new(Notify::new());
    let handler = OrderEvents::new(Arc::clone(&store), Arc::clone(&scheduled));
    let scheduler = Scheduler::new(Arc::clone(&store), clock, scheduled);
    let probe = StoreProbe::new("expiration-db", store.plumbing());
    ServiceParts::new(SOURCE, OpenApiRouter::new(), vec![probe])
        .consumer(CONSUMER, SUBSCRIBES_TO, Arc::new(handler))
        .events(store.plumbing(), wake)
        .task("scheduler", move |stop| scheduler.clone().run(stop))
}
