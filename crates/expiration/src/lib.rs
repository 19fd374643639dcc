//! The expiration service: ends holds that were not paid in time.
//!
//! * [`events`] — `order:created` → a durable job due at the order's `expiresAt`.
//! * [`scheduler`] — the worker that sleeps until the next job is due and publishes
//!   `expiration:complete` for it (through the outbox, in the transaction that takes it).
//! * [`store`] — the `JobStore` trait with SQLite and PostgreSQL (`SKIP LOCKED`) versions.
//!
//! It has no HTTP routes of its own.

pub mod events;
pub mod scheduler;
pub mod store;

use std::sync::Arc;

use boxoffice_platform::http::health::ReadinessProbe;

/// Name of this service in event envelopes.
pub const SOURCE: &str = "expiration";

/// `/readyz` check: the job store answers a trivial query.
pub fn readiness_probe(store: Arc<dyn store::JobStore>) -> Arc<dyn ReadinessProbe> {
    Arc::new(StoreProbe(store))
}

struct StoreProbe(Arc<dyn store::JobStore>);

#[async_trait::async_trait]
impl ReadinessProbe for StoreProbe {
    fn name(&self) -> &str {
        "expiration-db"
    }

    async fn check(&self) -> Result<(), String> {
        self.0.ping().await.map_err(|e| format!("{e:#}"))
    }
}
