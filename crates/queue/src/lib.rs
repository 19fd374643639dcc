//! The queue service: a fair, enforced line for a ticket someone else holds (CONTRACT §8).
//!
//! * [`parts`] — the service as the composition root runs it: routes, the `queue-store`
//!   probe, the event consumer, the outbox relay, the turn timer, the waker of joins
//!   waiting for a fresh ticket and the store's own background work (Redis: following
//!   other replicas), all supervised.
//! * [`domain`] — lines, turns and their rules (pure): strict arrival order; a lapsed hold
//!   gives the head of the line an exclusive turn; an unused turn passes on. Split into
//!   the ticket's state, the loaded line, the rules and a buyer's place.
//! * [`service`] — join, look, leave; the rules applied through the store, publishing
//!   `queue:line` whenever whose turn it is changes, so the orders service can enforce it.
//! * [`events`] — ticket and order events → who holds each ticket; sale or withdrawal ends
//!   a line; a lapsed hold starts a turn.
//! * [`scheduler`] — the timer that hands on turns nobody used.
//! * [`http`] — `/api/queue/:ticketId` (join, look, leave) and its live feed (SSE).
//! * [`store`] — the `QueueStore` trait: SQLite (embedded) and Redis (distributed).
//! * [`room`] — an event's on-sale waiting room (`/api/events/{id}/room`): fair admission
//!   tied to stock, the hash-chained fairness log and its verifier, signed admissions the
//!   orders service checks. Served where the store keeps rooms (embedded).

pub mod domain;
pub mod events;
pub mod http;
pub mod room;
pub mod scheduler;
pub mod service;
pub mod store;

use std::sync::Arc;

use boxoffice_common::Clock;
use boxoffice_platform::fresh::FreshIds;
use boxoffice_platform::http::admission::AdmissionKeys;
use boxoffice_platform::runtime::ServiceParts;
use boxoffice_platform::store::StoreProbe;
use tokio::sync::Notify;

use crate::domain::Rules;
use crate::events::{CONSUMER, QueueEvents, SUBSCRIBES_TO};
use crate::scheduler::TurnTimer;
use crate::service::QueueService;
use crate::store::QueueStore;

/// Name of this service in event envelopes.
pub const SOURCE: &str = "queue";

/// The queue service on `store`, whose outbox writes notify `wake`, with turns as long
/// as `rules` say; joins for a ticket listed moments ago wait for it through `fresh`.
/// Where the store keeps rooms, the waiting rooms run too (`room`), signing admissions
/// with `admissions`; they are brought back from their logs first.
pub async fn parts(
    store: Arc<dyn QueueStore>,
    wake: Arc<Notify>,
    clock: Arc<dyn Clock>,
    rules: Rules,
    fresh: FreshIds,
    (admissions, room): (AdmissionKeys, room::RoomSettings),
) -> anyhow::Result<ServiceParts> {
    let service = QueueService::new(Arc::clone(&store), Arc::clone(&clock), rules, fresh.clone());
    let probe = StoreProbe::new("queue-store", store.plumbing());
    let timer = TurnTimer::new(service.clone());
    // Subscribed now, before anything is served, so no change is missed; a waker started
    // again after a death subscribes afresh and first wakes every waiting join, since a
    // change may have gone by while it was down.
    let mut changes = Some(store.changes());
    let feed = Arc::clone(&store);
    let waiting = fresh.clone();
    let waker = service.clone();
    let mut api = http::router(service.clone());
    let mut rooms = None;
    if let Some(room_store) = store.rooms() {
        let (writer, writer_task) = room::writer::log_writer(Arc::clone(&room_store));
        let live =
            room::Rooms::load(Arc::clone(&room_store), clock, admissions, room, writer).await?;
        api = api.merge(room::http::router(live.clone()));
        rooms = Some((room_store, live, writer_task));
    }
    let mut parts = ServiceParts::new(SOURCE, api, vec![probe])
        .consumer(CONSUMER, SUBSCRIBES_TO, Arc::new(QueueEvents::new(service)))
        .events(store.plumbing(), wake)
        .task("turn-timer", move |stop| timer.clone().run(stop))
        .task("fresh-ticket-waker", move |stop| {
            let changes = changes.take().unwrap_or_else(|| {
                let changes = feed.changes();
                waiting.notify_all();
                changes
            });
            let waker = waker.clone();
            async move { waker.wake_fresh_joins(changes, stop).await }
        })
        .fresh_ids(fresh);
    if let Some(background) = store.background() {
        parts = parts.task("change-feed", background);
    }
    if let Some((room_store, live, writer_task)) = rooms {
        let handler = room::events::RoomEvents::new(room_store, live.clone(), store.plumbing());
        parts = parts
            .consumer(
                room::events::CONSUMER,
                room::events::SUBSCRIBES_TO,
                Arc::new(handler),
            )
            .task("room-log-writer", move |stop| writer_task.clone().run(stop))
            .task("room-ticker", move |stop| {
                room::run_ticker(live.clone(), stop)
            });
    }
    Ok(parts)
}
