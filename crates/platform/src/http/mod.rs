//! HTTP conventions shared by every service.
//!
//! * [`error`] — [`ApiError`], the one error type handlers return, rendered as the
//!   contract's `{"errors":[…]}` body.
//! * [`json`] — [`ApiJson`], a JSON extractor whose rejections use that body too.
//! * [`path_id`] — [`PathId`], a route's `{id}` parsed at the edge (malformed → 404).
//! * [`session`] — signing and verifying session tokens; the [`MaybeUser`] and
//!   [`AuthUser`] extractors; the session cookie.
//! * [`revocation`] — sessions ended by a sign-out, as every process checks them locally.
//! * [`admission`] — waiting-room admissions: signed by the queue service, checked by the
//!   orders service.
//! * [`csrf`] — refuses cross-site state changes that ride on the session cookie.
//! * [`stack`] — the middleware every service runs behind (request ids, tracing, metrics,
//!   panics, body limit, error bodies) and the fallback for unknown routes.
//! * [`security`] — the browser-facing headers of every response (CSP, `nosniff`, framing,
//!   HSTS over HTTPS, charsets) and the client's address behind trusted proxies.
//! * [`shed`] — sheds load beyond a number of requests in flight (503 + `Retry-After`).
//! * [`health`] — `/healthz`, `/readyz` and `/metrics`.
//! * [`serve`] — binding and serving with graceful shutdown.

pub mod admission;
pub mod csrf;
pub mod error;
pub mod health;
pub mod json;
pub mod path_id;
pub mod revocation;
pub mod security;
pub mod serve;
pub mod session;
pub mod shed;
pub mod stack;

pub use error::{ApiError, ErrorBody, ErrorItem};
pub use json::ApiJson;
pub use path_id::PathId;
pub use session::{AuthUser, Claims, MaybeUser, SessionKeys};
