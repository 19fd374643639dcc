//! API tests: the `boxoffice` application started on port 0 and driven over HTTP.
//!
//! One test binary (fast to link); one file per area. Tests marked with
//! `on_both_backends!` run twice: against the embedded mode (SQLite) and against
//! `boxoffice serve auth` on a fresh PostgreSQL database.

mod helpers;

mod auth;
mod backup;
mod bad_input;
mod baskets;
mod capture;
mod classic_client;
mod crash;
mod distributed;
mod distributed_baskets;
mod distributed_rooms;
mod events;
mod flash_sale;
mod fresh_ids;
mod openapi;
mod order_recovery;
mod orders;
mod overload;
mod payment_safety;
mod payments;
mod queue;
mod queue_feed;
mod rooms;
mod topology;

mod platform;
mod security;
mod sessions;
mod stripe;
mod supervision;
mod tickets;
