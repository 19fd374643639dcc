//! The `boxoffice` binary's library half: everything `main` needs, reachable from tests.
//!
//! * [`cli`] — command line and environment: subcommands and every setting.
//! * [`backend`] — the mode's storage and bus, with every setting it needs checked up
//!   front: SQLite files and the in-process bus, or PostgreSQL, NATS and Redis.
//! * [`services`] — each service's store opened on the backend and handed to the service
//!   crate's `parts` (routes, probe, consumers, timers).
//! * [`application`] — the composition root: builds the chosen services, launches their
//!   background work under one supervisor, serves HTTP, shuts down in order.
//! * [`admin`] — `migrate` and `republish`.
//! * [`openapi`] — the API description assembled from the services' documented routes.
//! * [`keys`] — the embedded mode's generated session key, kept in `DATA_DIR`.
//! * [`web`] — the web UI in front of the API (embedded mode).
//!
//! Tests build an [`application::Application`] on port 0 exactly as `main` does.

pub mod admin;
pub mod application;
pub mod backend;
pub mod cli;
pub mod keys;
pub mod openapi;
pub mod services;
pub mod web;
