//! API tests: the `boxoffice` application started on port 0 and driven over HTTP.
//!
//! One test binary (fast to link); one file per area. Tests marked with
//! `on_both_backends!` run twice: against the embedded mode (SQLite) and against
//! `boxoffice serve auth` on a fresh PostgreSQL database.

mod helpers;

mod auth;
mod bad_input;
mod crash;
mod distributed;
mod flash_sale;
mod openapi;
mod orders;
mod payments;
mod queue;
mod topology;

mod platform;
mod sessions;
mod stripe;
mod tickets;
