//! Shared infrastructure for every BoxOffice service.
//!
//! Services hold business rules; this crate holds everything they have in common so that
//! each service looks the same from the outside:
//!
//! * [`http`] — the contract's error body, the JSON extractor, sessions (JWT in a cookie
//!   or a bearer header), the CSRF origin rule, the standard middleware stack, health and
//!   metrics routes, and serving with graceful shutdown.
//! * [`telemetry`] — tracing (text or JSON) and the Prometheus recorder, installed once.
//! * [`bus`] — the `EventBus` trait, the event envelope and the in-process bus.
//! * [`idempotency`] — `Idempotency-Key`: replaying first answers, per user, for 24 h.
//! * [`outbox`] — transactional outbox with its relay, inbox and dead letters.
//! * [`consumer`] — runs an event handler as a durable consumer: ack, retry, park.
//! * [`db`] — opening SQLite files and PostgreSQL pools the way every store wants them;
//!   id and time column types that let one SQL text serve both.
//! * [`fresh`] — read your own writes: a replica asked for an id minted moments ago waits,
//!   bounded, for its consumer to commit it (in-process, or `LISTEN`/`NOTIFY` across replicas).
//! * [`store`] — what every service store shares: `Claim`, `Decision`, `Modified`, the
//!   outbox/dead-letter/ping [`store::Plumbing`] and its readiness probe.
//! * [`runtime`] — the supervisor every background task runs under, and
//!   [`runtime::ServiceParts`], what a service hands the composition root.
//! * [`secret`] — a wrapper that keeps keys out of `Debug` output and therefore out of logs.
//! * [`shutdown`] — the SIGINT/SIGTERM future that starts a graceful stop.
//! * `testing` (feature) — throw-away PostgreSQL databases for store contract tests.

pub mod bus;
pub mod consumer;
pub mod db;
pub mod fresh;
pub mod http;
pub mod idempotency;
pub mod outbox;
pub mod runtime;
pub mod secret;
pub mod shutdown;
pub mod store;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;

pub use metrics;
pub use secret::Secret;
