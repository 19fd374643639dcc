//! Every `TicketStore` method, and the order-event consumer, on SQLite and PostgreSQL.
//!
//! One test binary (one link), one file per behaviour:
//! * `changes` — insert, read back, `modify` (save, keep, refuse, claim, delete);
//! * `listing` — filters, sorts, pages and counts;
//! * `plumbing` — the outbox and dead letters every store has;
//! * `order_events` — order events driving the reservation state;
//! * `helpers` — the two subjects and the tickets and events the cases build.

mod changes;
mod helpers;
mod listing;
mod order_events;
mod plumbing;
