//! The auth service: accounts and sessions (CONTRACT.md §2–3).
//!
//! * [`parts`] — the service as the composition root runs it: routes, the `auth-db`
//!   readiness probe and the outbox of its session events (`session:revoked`,
//!   `user:signed-out-everywhere`). Auth consumes no events and runs no timers.
//! * [`domain`] — `Email` and `Password` parsing, the `User` record. Pure.
//! * [`password`] — Argon2id hashing and verification, run off the async runtime.
//! * [`limiter`] — refuses sign-in for an email after repeated failures.
//! * [`service`] — the use-cases: sign up, sign in, sign out (here or everywhere).
//! * [`http`] — the `/api/users` routes with their OpenAPI descriptions, and how each
//!   `AuthError` is answered.
//! * [`store`] — the `UserStore` trait with SQLite and PostgreSQL implementations over
//!   one set of SQL statements.
//!
//! Other services never call this one: they verify session tokens themselves with the
//! shared key (`boxoffice_platform::http::SessionKeys`), and learn of ended sessions from
//! its events (`boxoffice_platform::http::revocation`).

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
use tokio::sync::Notify;

/// The auth service on `store`, signing sessions with `sessions`; `wake` is the notice the
/// store gives after each commit that wrote to its outbox. The sessions that ended before
/// this start are loaded into `sessions` first.
pub async fn parts(
    store: Arc<dyn store::UserStore>,
    sessions: SessionKeys,
    clock: Arc<dyn Clock>,
    wake: Arc<Notify>,
) -> anyhow::Result<ServiceParts> {
    let plumbing = store.plumbing();
    let probe = StoreProbe::new("auth-db", Arc::clone(&plumbing));
    let service = AuthService::new(store, sessions, clock);
    service.restore_ended_sessions().await?;
    password::warm_up().await?;
    Ok(ServiceParts::new("auth", http::router(service), vec![probe]).events(plumbing, wake))
}
