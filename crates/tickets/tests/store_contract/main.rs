//! Every `TicketStore` method, and the order-event consumer, on SQLite and PostgreSQL.
//!
//! One test binary (one link), one file per behaviour:
//! * `changes` — insert, read back, `modify` (save, keep, refuse, claim, delete);
//! * `listing` — filters, sorts, pages and counts;
//! * `plumbing` — the outbox and dead letters every store has;
//! * `order_events` — order events driving the reservation state;
//! * `basket_events` — the same for orders of several tickets;
//! * `grouped_events` — order events applied as a group, and `modify_all`;
//! * `catalogue` — catalogue events: dedup, edits, the listing, ticket counts;
//! * `serials` — serial numbers unique per event, and one event's tickets;
//! * `helpers` — the two subjects and the tickets and events the cases build.

mod basket_events;
mod catalogue;
mod changes;
mod grouped_events;
mod helpers;
mod listing;
mod order_events;
mod plumbing;
mod serials;
