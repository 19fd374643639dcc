//! Every `OrderStore` method, and the orders consumer, on SQLite and PostgreSQL.
//!
//! One test binary (fast to link), one file per behaviour:
//! * `holding` — placing, reading and changing orders: one holder per ticket, changes
//!   saved with their events and claimed once, dead letters kept.
//! * `replica` — the ticket replica's version rule and the line gate, at the store.
//! * `consumer` — the same rules driven by events through `OrdersEvents`.
//! * `baskets` — multi-ticket orders: all or nothing, overlapping baskets racing.
//! * `limits` — waiting rooms: the room gate and the per-account limit, raced.
//! * `memory` — the embedded store's copy of holds and replicas, in step with its commits.
//! * `fresh` — a request waiting for a fresh ticket is woken by the consumer's commit.
//! * `support` — the subjects (a fresh database each) and shared builders.

mod baskets;
mod consumer;
mod fresh;
mod holding;
mod limits;
mod memory;
mod replica;
mod support;
