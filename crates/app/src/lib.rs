//! The `boxoffice` binary's library half: everything `main` needs, reachable from tests.
//!
//! * [`cli`] — command line and environment: subcommands and every setting.
//! * [`application`] — builds a ready-to-serve app for the embedded mode (all services
//!   in one process on SQLite) or for one service on PostgreSQL.
//! * [`openapi`] — the API description assembled from the services' documented routes.
//! * [`keys`] — the embedded mode's generated session key, kept in `DATA_DIR`.
//!
//! Tests build an [`application::Application`] on port 0 exactly as `main` does.

pub mod application;
pub mod cli;
pub mod keys;
pub mod openapi;
