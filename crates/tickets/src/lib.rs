//! The tickets service: listings and their reservation state (CONTRACT.md §4), and the
//! events catalogue they are listed for (§11).
//!
//! * [`parts`] — the one entry point: routes, the `tickets-db` probe, the order-event
//!   consumer and the outbox, for the composition root to launch.
//! * [`domain`] — `Ticket`, `TicketDraft` / `TicketInput` validation, the reservation
//!   transitions; `domain::event` — `CatalogueEvent` (named so beside the bus's `Event`)
//!   and its draft. Each change returns the event payload it causes. Pure.
//! * [`service`] — the use-cases: list, show, create, edit, withdraw tickets;
//!   `service::events` — create, show, list, edit catalogue events. Wraps payloads in
//!   envelopes.
//! * [`events`] — order events → reservation state of every ticket of the order's
//!   basket, announced as `ticket:updated`.
//! * [`http`] — the `/api/tickets` and `/api/events` routes with their OpenAPI
//!   descriptions.
//! * [`store`] — the `TicketStore` and `CatalogueStore` traits; SQL written once in
//!   `store/sql.rs` and `store/event_sql.rs`, with SQLite and PostgreSQL transactions
//!   beside it.

pub mod domain;
pub mod events;
pub mod http;
pub mod service;
pub mod stock;
pub mod store;

use std::sync::Arc;

use boxoffice_common::Clock;
use boxoffice_platform::runtime::ServiceParts;
use boxoffice_platform::store::StoreProbe;
pub use service::TicketsService;
use service::events::CatalogueService;
use tokio::sync::Notify;

/// Everything the tickets service contributes to a process. `wake` is the notice the
/// store gives after each commit that wrote to the outbox (the one it was opened with);
/// it wakes the outbox relay. Its one timer counts the stock for the `boxoffice_tickets`
/// gauges ([`stock`]).
pub fn parts(
    store: Arc<dyn store::TicketStore>,
    wake: Arc<Notify>,
    clock: Arc<dyn Clock>,
) -> ServiceParts {
    let service = TicketsService::new(Arc::clone(&store), Arc::clone(&clock));
    let catalogue = CatalogueService::new(Arc::clone(&store), Arc::clone(&clock));
    let probe = StoreProbe::new("tickets-db", store.plumbing());
    let handler = Arc::new(events::OrderEvents::new(Arc::clone(&store), clock));
    let counted = Arc::clone(&store);
    ServiceParts::new("tickets", http::router(service, catalogue), vec![probe])
        .consumer(events::CONSUMER, events::SUBSCRIBES_TO, handler)
        .events(store.plumbing(), wake)
        .task("stock gauges", move |stop| {
            stock::run(Arc::clone(&counted), stop)
        })
}
