//! The payments service: authorize, let the orders service decide, then capture or void;
//! provider webhooks; refunds for late money (CONTRACT.md §6, DESIGN.md §3 rule 6).
//!
//! * [`parts`] — the one entry point: routes, `/readyz` probe, the order-events consumer,
//!   the outbox, and the resumer, for the process's supervisor to run.
//! * [`domain`] — `Payment` and its state machine (methods that return the event payload),
//!   the order replica, the settle-or-refund rule. Pure; unit tests in `domain/tests.rs`.
//! * [`gateway`] — the `PaymentGateway` trait (the built-in test processor and Stripe) and
//!   [`gateway::Gateway`], the one chosen at start ([`gateway::configure`]).
//! * [`webhook`] — `Stripe-Signature` verification and the events BoxOffice acts on.
//! * [`service`] — the use-cases, one file each: `charge` (pay: authorize, then wait for
//!   the decision), `decide` (capture or void on the order's decision; resuming),
//!   `settle` (webhooks, 3-D Secure), `refund` (cancelled orders, late money).
//! * [`decisions`] — wakes a request waiting for its payment's decision.
//! * [`events`] — order events → the order replica; the orders service's decisions
//!   (`order:completed`, `order:refused`); refunds when an order is cancelled.
//! * [`http`] — the `/api/payments` routes, with `Idempotency-Key` handling.
//! * [`resumer`] — the background task that finishes steps left half-way.
//! * [`store`] — the `PaymentStore` trait; its SQL written once (`store/sql.rs`), its
//!   transactions per database (SQLite, PostgreSQL).

pub mod decisions;
pub mod domain;
pub mod events;
pub mod gateway;
pub mod http;
pub mod resumer;
pub mod service;
pub mod store;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use boxoffice_common::Clock;
use boxoffice_platform::Secret;
use boxoffice_platform::fresh::FreshIds;
use boxoffice_platform::runtime::ServiceParts;
use boxoffice_platform::store::StoreProbe;
use tokio::sync::Notify;

pub use http::router;
pub use service::{DEFAULT_DECISION_WAIT, PaymentsService};

use crate::events::{CONSUMER, DECISION_CONSUMER, DECISION_EVENTS, OrderEvents, SUBSCRIBES_TO};
use crate::gateway::Gateway;
use crate::resumer::Resumer;
use crate::store::PaymentStore;

/// The payments service's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where charges go: [`gateway::configure`] picks Stripe or the test processor.
    pub gateway: Gateway,
    /// ISO 4217 code every payment is made in, e.g. `usd` (lower-cased here, as Stripe
    /// wants it).
    pub currency: String,
    /// Verifies provider webhooks (and signs the test processor's own).
    pub webhook_secret: Secret,
    /// How often steps left half-way (captures, voids, refunds, overdue decisions) are
    /// tried again; [`resumer::RESUME_EVERY`] in production.
    pub resume_every: Duration,
    /// How long `POST /api/payments` waits for the order's decision before answering
    /// `processing`; [`DEFAULT_DECISION_WAIT`] (5 s) unless configured.
    pub decision_wait: Duration,
}

/// Everything the payments service contributes to a process: the `/api/payments` routes,
/// the `payments-db` readiness probe, the `payments` consumer of order events, its outbox,
/// and the resumer as a supervised task.
pub fn parts(
    store: Arc<dyn PaymentStore>,
    wake: Arc<Notify>,
    clock: Arc<dyn Clock>,
    config: Config,
    fresh: FreshIds,
) -> ServiceParts {
    tracing::info!(
        gateway = config.gateway.provider().name(),
        "payments configured"
    );
    let service = PaymentsService::new(
        Arc::clone(&store),
        config.gateway,
        clock,
        config.currency.to_lowercase(),
        config.webhook_secret,
    )
    .with_decision_wait(config.decision_wait)
    .with_fresh_ids(fresh.clone());
    // The listener that wakes requests waiting for fresh orders also carries other
    // replicas' payment decisions (the PostgreSQL store announces each payment's change).
    let decisions = service.decisions().clone();
    fresh.also_wake(move |id| decisions.settled(id));
    let resumer = Resumer::new(service.clone(), config.resume_every);
    let probe = StoreProbe::new("payments-db", store.plumbing());
    ServiceParts::new("payments", router(service.clone()), vec![probe])
        .consumer(
            DECISION_CONSUMER,
            DECISION_EVENTS,
            Arc::new(OrderEvents::new(service.clone())),
        )
        .consumer(CONSUMER, SUBSCRIBES_TO, Arc::new(OrderEvents::new(service)))
        .events(store.plumbing(), wake)
        .task("payment resumer", move |stop| resumer.clone().run(stop))
        .fresh_ids(fresh)
}
