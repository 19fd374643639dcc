//! The queue service: a fair, enforced line for a ticket someone else holds (CONTRACT §8).
//!
//! * [`domain`] — lines, turns and their rules (pure): strict arrival order; a lapsed hold
//!   gives the head of the line an exclusive turn; an unused turn passes on.
//! * [`service`] — join, look, leave; the rules applied through the store, publishing
//!   `queue:line` whenever whose turn it is changes, so the orders service can enforce it.
//! * [`events`] — ticket and order events → who holds each ticket; sale or withdrawal ends
//!   a line; a lapsed hold starts a turn.
//! * [`scheduler`] — the timer that hands on turns nobody used.
//! * [`http`] — `/api/queue/:ticketId` (join, look, leave) and its live feed (SSE).
//! * [`store`] — the `QueueStore` trait: SQLite (embedded) and Redis (distributed).

pub mod domain;
pub mod events;
pub mod http;
pub mod scheduler;
pub mod service;
pub mod store;

use std::sync::Arc;

use boxoffice_platform::http::health::ReadinessProbe;

/// Name of this service in event envelopes.
pub const SOURCE: &str = "queue";

/// `/readyz` check: the line store answers.
pub fn readiness_probe(store: Arc<dyn store::QueueStore>) -> Arc<dyn ReadinessProbe> {
    Arc::new(StoreProbe(store))
}

struct StoreProbe(Arc<dyn store::QueueStore>);

#[async_trait::async_trait]
impl ReadinessProbe for StoreProbe {
    fn name(&self) -> &str {
        "queue-store"
    }

    async fn check(&self) -> Result<(), String> {
        self.0.ping().await.map_err(|e| format!("{e:#}"))
    }
}
