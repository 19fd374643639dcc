//! Load generator, invariant checker and benchmark report for BoxOffice.
//!
//! * [`scenario`] — the workloads: `flash_sale` (buyers racing for tickets, then paying),
//!   `browse` (a read mix), `line_rush` (buyers joining the lines of held tickets, places
//!   checked), `basket` (buyers racing for 2–4 adjacent seats of an event as one
//!   multi-ticket order, then paying, cancelling or holding) and `ceiling` (the same client
//!   against a hello-world server).
//! * [`client`] — the HTTP client, session tokens, and timing of every request.
//! * [`recorder`] — latencies, status counts and a per-second timeline.
//! * [`invariants`] — the checks run on the services' stores after every scenario.
//! * [`server`] — spawning `boxoffice` (and the hello-world server) and sampling their
//!   memory and CPU from `/proc`.
//! * [`hello`] — the minimal in-repo HTTP server that gives the machine's ceiling.
//! * [`lag`] — a consumer's lag (event occurred → applied), from the server's histogram.
//! * [`report`] — JSON and Markdown reports; [`chart`] — the PNG chart.
//! * [`stats`] — percentiles.

pub mod chart;
pub mod client;
pub mod hello;
pub mod invariants;
pub mod lag;
pub mod recorder;
pub mod report;
pub mod scenario;
pub mod server;
pub mod stats;
