//! The payments service: charges, provider webhooks, refunds for late money (CONTRACT.md §6).
//!
//! * [`domain`] — `Payment`, its statuses, the order replica, the settle-or-refund rule. Pure.
//! * [`gateway`] — the `PaymentGateway` trait: the built-in test processor and Stripe.
//! * [`webhook`] — `Stripe-Signature` verification and the events BoxOffice acts on.
//! * [`service`] — pay, receive webhooks, finish 3-D Secure, refund.
//! * [`events`] — order events → the order replica; refunds when an order is cancelled.
//! * [`http`] — the `/api/payments` routes, with `Idempotency-Key` handling.
//! * [`refunds`] — the background task that finishes refunds left half-way.
//! * [`store`] — the `PaymentStore` trait with SQLite and PostgreSQL implementations.

pub mod domain;
pub mod events;
pub mod gateway;
pub mod http;
pub mod refunds;
pub mod service;
pub mod store;
pub mod webhook;

use std::sync::Arc;

use boxoffice_platform::http::health::ReadinessProbe;
pub use http::router;
pub use service::PaymentsService;

/// `/readyz` check: the payments store answers a trivial query.
pub fn readiness_probe(service: &PaymentsService) -> Arc<dyn ReadinessProbe> {
    Arc::new(StoreProbe(service.store().clone()))
}

struct StoreProbe(Arc<dyn store::PaymentStore>);

#[async_trait::async_trait]
impl ReadinessProbe for StoreProbe {
    fn name(&self) -> &str {
        "payments-db"
    }

    async fn check(&self) -> Result<(), String> {
        self.0.ping().await.map_err(|e| format!("{e:#}"))
    }
}
