//! The auth service: accounts and sessions (CONTRACT.md §2–3).
//!
//! * [`domain`] — `Email` and `Password` parsing, the `User` record. Pure.
//! * [`password`] — Argon2id hashing and verification, run off the async runtime.
//! * [`limiter`] — refuses sign-in for an email after repeated failures.
//! * [`service`] — the use-cases: sign up, sign in.
//! * [`http`] — the `/api/users` routes with their OpenAPI descriptions.
//! * [`store`] — the `UserStore` trait with SQLite and PostgreSQL implementations.
//!
//! Other services never call this one: they verify session tokens themselves with the
//! shared key (`boxoffice_platform::http::SessionKeys`).

pub mod domain;
pub mod http;
pub mod limiter;
pub mod password;
pub mod service;
pub mod store;

pub use http::router;
pub use service::AuthService;

use std::sync::Arc;

use boxoffice_platform::http::health::ReadinessProbe;

/// `/readyz` check: the auth store answers a trivial query.
pub fn readiness_probe(service: &AuthService) -> Arc<dyn ReadinessProbe> {
    Arc::new(StoreProbe(service.store().clone()))
}

struct StoreProbe(Arc<dyn store::UserStore>);

#[async_trait::async_trait]
impl ReadinessProbe for StoreProbe {
    fn name(&self) -> &str {
        "auth-db"
    }

    async fn check(&self) -> Result<(), String> {
        self.0.ping().await.map_err(|e| format!("{e:#}"))
    }
}
