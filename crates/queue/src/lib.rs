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
//!   orders service checks. Kept by the SQLite store (embedded) or, in the distributed
//!   mode, in PostgreSQL beside the Redis lines ([`SharedRooms`]), each room run by one
//!   replica holding its lease.

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
use boxoffice_platform::store::{Plumbing, StoreProbe};
use tokio::sync::Notify;

use crate::domain::Rules;
use crate::events::{CONSUMER, QueueEvents, SUBSCRIBES_TO};
use crate::scheduler::TurnTimer;
use crate::service::QueueService;
use crate::store::QueueStore;

/// Name of this service in event envelopes.
pub const SOURCE: &str = "queue";

/// How the waiting rooms run.
#[derive(Debug)]
pub struct RoomPart {
    /// What admissions are signed with.
    pub admissions: AdmissionKeys,
    pub settings: room::RoomSettings,
    /// Where the rooms are kept when the queue's store keeps none (the distributed mode).
    pub shared: Option<SharedRooms>,
}

/// Rooms kept in PostgreSQL and shared by the queue's replicas, each room run by the one
/// holding its lease (see [`room::tenancy`]).
#[derive(Debug)]
pub struct SharedRooms {
    pub store: Arc<room::store::PostgresRoomStore>,
    /// Notified after each commit that wrote to the rooms' outbox.
    pub wake: Arc<Notify>,
    /// Where the other replicas reach this one (`http://host:port`).
    pub address: String,
    pub lease: std::time::Duration,
}

/// Where the rooms are kept, which of them this replica runs, and the outbox of their
/// store when it is not the queue store's own.
type RoomSource = (
    Arc<dyn room::store::RoomStore>,
    Option<room::tenancy::Tenancy>,
    Option<(Arc<dyn Plumbing>, Arc<Notify>)>,
);

fn room_source(
    store: &dyn QueueStore,
    shared: Option<SharedRooms>,
) -> anyhow::Result<Option<RoomSource>> {
    if let Some(rooms) = store.rooms() {
        return Ok(Some((rooms, None, None)));
    }
    let Some(shared) = shared else {
        return Ok(None);
    };
    let leases: Arc<dyn room::tenancy::RoomLeases> = shared.store.clone();
    let tenancy = room::tenancy::Tenancy::new(leases, shared.address, shared.lease)?;
    let plumbing: Arc<dyn Plumbing> = Arc::new(shared.store.pool().clone());
    Ok(Some((
        shared.store,
        Some(tenancy),
        Some((plumbing, shared.wake)),
    )))
}

/// The queue service on `store`, whose outbox writes notify `wake`, with turns as long
/// as `rules` say; joins for a ticket listed moments ago wait for it through `fresh`.
/// Where rooms are kept (the SQLite store, or `room.shared`), the waiting rooms run too,
/// signing admissions with `room.admissions`; they are brought back from their logs
/// first (distributed: as this replica takes them).
pub async fn parts(
    store: Arc<dyn QueueStore>,
    wake: Arc<Notify>,
    clock: Arc<dyn Clock>,
    rules: Rules,
    fresh: FreshIds,
    room: RoomPart,
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
    let mut probes = vec![probe];
    if let Some((room_store, tenancy, outbox)) = room_source(&*store, room.shared)? {
        let (writer, writer_task) = room::writer::log_writer(Arc::clone(&room_store));
        let live = room::Rooms::load(
            Arc::clone(&room_store),
            clock,
            room.admissions,
            (room.settings, tenancy),
            writer,
        )
        .await?;
        api = api.merge(room::http::router(live.clone()));
        if let Some((plumbing, _)) = &outbox {
            probes.push(StoreProbe::new("queue-rooms-store", Arc::clone(plumbing)));
        }
        rooms = Some((room_store, live, writer_task, outbox));
    }
    let mut parts = ServiceParts::new(SOURCE, api, probes)
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
    if let Some((room_store, live, writer_task, outbox)) = rooms {
        // Dead letters go where the consumer's inbox is.
        let dead_letters = outbox
            .as_ref()
            .map_or_else(|| store.plumbing(), |(plumbing, _)| Arc::clone(plumbing));
        let handler = room::events::RoomEvents::new(room_store, live.clone(), dead_letters);
        if let Some((plumbing, wake)) = outbox {
            parts = parts.events(plumbing, wake);
        }
        let holder = live.clone();
        parts = parts
            .task("room-holder", move |stop| {
                room::tenancy::run_holder(holder.clone(), stop)
            })
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
