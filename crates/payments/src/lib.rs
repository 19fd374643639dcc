//! The payments service: charges, provider webhooks, refunds for late money (CONTRACT.md §6).
//!
//! * [`parts`] — the one entry point: routes, `/readyz` probe, the order-events consumer,
//!   the outbox, and the refund retrier, for the process's supervisor to run.
//! * [`domain`] — `Payment` and its state machine (methods that return the event payload),
//!   the order replica, the settle-or-refund rule. Pure; unit tests in `domain/tests.rs`.
//! * [`gateway`] — the `PaymentGateway` trait (the built-in test processor and Stripe) and
//!   [`gateway::Gateway`], the one chosen at start ([`gateway::configure`]).
//! * [`webhook`] — `Stripe-Signature` verification and the events BoxOffice acts on.
//! * [`service`] — the use-cases, one file each: `charge` (pay), `settle` (webhooks,
//!   3-D Secure), `refund` (cancelled orders, late money, retries).
//! * [`events`] — order events → the order replica; refunds when an order is cancelled.
//! * [`http`] — the `/api/payments` routes, with `Idempotency-Key` handling.
//! * [`refunds`] — the background task that finishes refunds left half-way.
//! * [`store`] — the `PaymentStore` trait; its SQL written once (`store/sql.rs`), its
//!   transactions per database (SQLite, PostgreSQL).

pub mod domain;
pub mod events;
pub mod gateway;
pub mod http;
pub mod refunds;
pub mod service;
pub mod store;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use boxoffice_common::Clock;
use boxoffice_platform::Secret;
use boxoffice_platform::runtime::ServiceParts;
use boxoffice_platform::store::StoreProbe;
use tokio::sync::Notify;

pub use http::router;
pub use service::PaymentsService;

use crate::events::{CONSUMER, OrderEvents, SUBSCRIBES_TO};
use crate::gateway::Gateway;
use crate::refunds::RefundRetrier;
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
    /// How often refunds left half-way are tried again; [`refunds::RETRY_EVERY`] in
    /// production.
    pub refund_retry_every: Duration,
}

/// Everything the payments service contributes to a process: the `/api/payments` routes,
/// the `payments-db` readiness probe, the `payments` consumer of order events, its outbox,
/// and the refund retrier as a supervised task.
pub fn parts(
    store: Arc<dyn PaymentStore>,
    wake: Arc<Notify>,
    clock: Arc<dyn Clock>,
    config: Config,
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
    );
    let retrier = RefundRetrier::new(service.clone(), config.refund_retry_every);
    let probe = StoreProbe::new("payments-db", store.plumbing());
    ServiceParts::new("payments", router(service.clone()), vec![probe])
        .consumer(CONSUMER, SUBSCRIBES_TO, Arc::new(OrderEvents::new(service)))
        .events(store.plumbing(), wake)
        .task("refund retrier", move |stop| retrier.run(stop))
}
