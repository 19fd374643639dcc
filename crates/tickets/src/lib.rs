//! The tickets service: listings, and their reservation state (CONTRACT.md §4).
//!
//! * [`domain`] — `Ticket`, `TicketDraft` validation, the reservation transitions. Pure.
//! * [`service`] — the use-cases: list, show, create, edit, withdraw.
//! * [`events`] — order events → reservation state, announced as `ticket:updated`.
//! * [`http`] — the `/api/tickets` routes with their OpenAPI descriptions.
//! * [`store`] — the `TicketStore` trait with SQLite and PostgreSQL implementations.

pub mod domain;
pub mod events;
pub mod http;
pub mod service;
pub mod store;

use std::sync::Arc;

use boxoffice_platform::http::health::ReadinessProbe;
pub use http::router;
pub use service::TicketsService;

/// `/readyz` check: the tickets store answers a trivial query.
pub fn readiness_probe(service: &TicketsService) -> Arc<dyn ReadinessProbe> {
    Arc::new(StoreProbe(service.store().clone()))
}

struct StoreProbe(Arc<dyn store::TicketStore>);

#[async_trait::async_trait]
impl ReadinessProbe for StoreProbe {
    fn name(&self) -> &str {
        "tickets-db"
    }

    async fn check(&self) -> Result<(), String> {
        self.0.ping().await.map_err(|e| format!("{e:#}"))
    }
}
