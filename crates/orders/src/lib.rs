//! The orders service: who holds which ticket (CONTRACT.md §5).
//!
//! * [`domain`] — `Order` and its state machine, the replica version rule. Pure.
//! * [`service`] — the use-cases: place, list, show, cancel.
//! * [`events`] — ticket events → replica; `expiration:complete` → expiry.
//! * [`http`] — the `/api/orders` routes with their OpenAPI descriptions.
//! * [`store`] — the `OrderStore` trait with SQLite and PostgreSQL implementations; the unique index that decides the one holder.

pub mod domain;
pub mod events;
pub mod http;
pub mod service;
pub mod store;

use std::sync::Arc;

use boxoffice_platform::http::health::ReadinessProbe;
pub use http::router;
pub use service::OrdersService;

/// `/readyz` check: the orders store answers a trivial query.
pub fn readiness_probe(service: &OrdersService) -> Arc<dyn ReadinessProbe> {
    Arc::new(StoreProbe(service.store().clone()))
}

struct StoreProbe(Arc<dyn store::OrderStore>);

#[async_trait::async_trait]
impl ReadinessProbe for StoreProbe {
    fn name(&self) -> &str {
        "orders-db"
    }

    async fn check(&self) -> Result<(), String> {
        self.0.ping().await.map_err(|e| format!("{e:#}"))
    }
}
