//! The auth service: accounts and sessions (CONTRACT.md §2–3).
//!
//! * [`parts`] — the service as the composition root runs it: routes and the `auth-db`
//!   readiness probe. Auth neither publishes nor consumes events and runs no timers.
//! * [`domain`] — `Email` and `Password` parsing, the `User` record. Pure.
//! * [`password`] — Argon2id hashing and verification, run off the async runtime.
//! * [`limiter`] — refuses sign-in for an email after repeated failures.
//! * [`service`] — the use-cases: sign up, sign in.
//! * [`http`] — the `/api/users` routes with their OpenAPI descriptions, and how each
//!   `AuthError` is answered.
//! * [`store`] — the `UserStore` trait with SQLite and PostgreSQL implementations over
//!   one set of SQL statements.
//!
//! Other services never call this one: they verify session tokens themselves with the
//! shared key (`boxoffice_platform::http::SessionKeys`).

pub mod domain;
pub mod http;
pub mod limiter;
pub mod password;
pub mod service;
pub mod store;

pub use service::AuthService;

use std::sync::Arc;

use boxoffice_common::Clock;
use boxoffice_platform::http::SessionKeys;
use boxoffice_platform::runtime::ServiceParts;
use boxoffice_platform::store::StoreProbe;

/// The auth service on `store`, signing sessions with `sessions`.
pub fn parts(
    store: Arc<dyn store::UserStore>,
    sessions: SessionKeys,
    clock: Arc<dyn Clock>,
) -> ServiceParts {
    let probe = StoreProbe::new("auth-db", store.plumbing());
    let service = AuthService::new(store, sessions, clock);
    ServiceParts::new("auth", http::router(service), vec![probe])
}
