//! The rooms as the queue service runs them: each live room's engine in memory, every
//! decision written to its fairness log before the buyer hears of it, admissions signed
//! for the orders service, and a snapshot of every place published after each tick for
//! the live feeds.
//!
//! One lock per room guards its engine; what a change appended to the log is handed, in
//! order and still under the lock, to the [`LogWriter`], which writes whatever has queued
//! up in one transaction (group commit) and then lets the callers answer.
//!
//! In the distributed mode a replica runs only the rooms whose lease it holds
//! ([`super::tenancy`]): it takes lapsed ones, renews its own, and drops a room the moment
//! its tenure is found over, so requests for it go to its new runner.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::Context;
use boxoffice_common::events::RoomGate;
use boxoffice_common::{Clock, Id};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::http::admission::AdmissionKeys;
use boxoffice_platform::metrics;
use boxoffice_platform::telemetry::names::{
    ROOM_ADMISSIONS, ROOM_INVERSIONS, ROOM_LOG_FAULTS, ROOM_PLACE_STATES, ROOM_PLACES,
};
use time::OffsetDateTime;
use tokio::sync::{oneshot, watch};

use super::engine::{PlaceState, PlaceView, Projection, Room, RoomConfig, RoomState, Stock};
use super::fairness::{Seed, pid};
use super::log::{Entry, Head, What};
use super::store::{RoomRecord, RoomStore};
use super::tenancy::{Tenancy, TenureOver};
use super::verify::verify;
use super::writer::{Appendix, LogWriter};
use crate::SOURCE;

/// How the rooms of this service run.
#[derive(Debug, Clone, Copy)]
pub struct RoomSettings {
    pub config: RoomConfig,
    /// How often every room is moved on (admissions, leases, the published snapshot).
    pub tick: Duration,
}

impl Default for RoomSettings {
    fn default() -> Self {
        Self {
            config: RoomConfig::default(),
            tick: Duration::from_millis(250),
        }
    }
}

/// A refusal of a room request.
#[derive(Debug, thiserror::Error)]
pub enum RoomError {
    #[error("not found")]
    NotFound,
    #[error("not the event's creator")]
    NotCreator,
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: &'static str,
    },
    /// Another replica runs the room now (distributed mode): ask again.
    #[error("the room moved to another replica")]
    Moved,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// An admission handed to a buyer.
#[derive(Clone, PartialEq, Eq)]
pub struct Granted {
    pub token: String,
    pub expires_at: OffsetDateTime,
}

impl std::fmt::Debug for Granted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token lets its buyer order: never in a log line.
        f.debug_struct("Granted")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A room as anyone may see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomInfo {
    pub event_id: Id,
    pub state: RoomState,
    pub opens_at: i64,
    pub per_account_limit: u32,
    pub commitment: String,
    pub head: Head,
}

/// Everything the live feeds of one room need after a tick, computed once for all.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub state: RoomState,
    pub views: HashMap<String, PlaceView>,
    pub admissions: HashMap<String, Granted>,
    pub head: Head,
    pub stock: Stock,
    /// When this snapshot was taken (Unix milliseconds).
    pub at: i64,
    /// When each waiting place is expected to be admitted.
    pub projection: Arc<Projection>,
    /// Places waiting (in the prequeue, in line or parked).
    pub waiting: u64,
    /// Milliseconds until the opening; 0 once open.
    pub opens_in: i64,
    /// The share of admissions that ordered, once known.
    pub conversion: Option<f64>,
}

/// What one room's tick decided: the write to wait for, then what to publish.
struct Ticked<W> {
    written: W,
    snapshot: Arc<Snapshot>,
    grants: Vec<(String, Granted)>,
}

/// One live room.
#[derive(Debug)]
struct LiveRoom {
    event_id: Id,
    salt: Vec<u8>,
    starts_at: i64,
    cell: Mutex<Cell>,
    snapshot: watch::Sender<Arc<Snapshot>>,
    /// Held while the room's settings change (see `Rooms::change`).
    changing: tokio::sync::Mutex<()>,
    /// This replica's tenure of the room (distributed mode).
    tenure: Option<i64>,
    /// The last of the store's recorded orders the room has heard of.
    orders_seen: AtomicI64,
}

#[derive(Debug)]
struct Cell {
    room: Room,
    record: RoomRecord,
    /// Log entries already handed to the writer.
    handed: usize,
    members: HashMap<String, Id>,
    admissions: HashMap<String, Granted>,
    stock: Stock,
}

/// The rooms of this service. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Rooms {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<dyn RoomStore>,
    clock: Arc<dyn Clock>,
    keys: AdmissionKeys,
    settings: RoomSettings,
    live: RwLock<HashMap<Id, Arc<LiveRoom>>>,
    writer: LogWriter,
    /// Inversions found in the logs of the rooms that ended since the start.
    inversions: AtomicU64,
    /// Which rooms this replica runs (distributed mode); `None`: all of them.
    tenancy: Option<Tenancy>,
}

fn millis(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

impl Rooms {
    /// The rooms kept in `store`, brought back from their logs — every one, or with a
    /// `tenancy` none yet: [`Self::hold_rooms`] takes those nobody runs.
    pub async fn load(
        store: Arc<dyn RoomStore>,
        clock: Arc<dyn Clock>,
        keys: AdmissionKeys,
        (settings, tenancy): (RoomSettings, Option<Tenancy>),
        writer: LogWriter,
    ) -> anyhow::Result<Self> {
        let shared = tenancy.is_some();
        let rooms = Self {
            inner: Arc::new(Inner {
                store: Arc::clone(&store),
                clock,
                keys,
                settings,
                live: RwLock::new(HashMap::new()),
                writer,
                inversions: AtomicU64::new(0),
                tenancy,
            }),
        };
        if !shared {
            for record in store.rooms().await? {
                if let Some(live) = rooms.restore(record, None).await? {
                    rooms.write_live().insert(live.event_id, live);
                }
            }
        }
        Ok(rooms)
    }

    /// `record`'s room as its log left it, run under `tenure`; `None` when its log is
    /// damaged.
    async fn restore(
        &self,
        record: RoomRecord,
        tenure: Option<i64>,
    ) -> anyhow::Result<Option<Arc<LiveRoom>>> {
        let store = &self.inner.store;
        let event_id = record.event_id;
        let entries = store.log(event_id).await?;
        let handed = entries.len();
        let config = self.inner.settings.config;
        let now = self.now();
        let restored = Seed::from_hex(&record.seed)
            .context("a room's stored seed is damaged")
            .and_then(|seed| Room::restore(seed, record.opens_at, config, entries, now));
        let room = match restored {
            Ok(room) => room,
            Err(err) => {
                // Not served, and its gate stays shut: the event's tickets cannot be
                // ordered until an operator looks — never sold past a broken room. The
                // rest of the queue service (other rooms, the lines) goes on.
                metrics::counter!(ROOM_LOG_FAULTS).increment(1);
                tracing::error!(
                    event = %event_id,
                    error = format!("{err:#}"),
                    "a room's fairness log is damaged; the room is not served"
                );
                return Ok(None);
            }
        };
        let members = store.members(event_id).await?.into_iter().collect();
        let starts_at = store
            .event(event_id)
            .await?
            .map_or(i64::MAX, |e| e.starts_at);
        let live = LiveRoom::new(event_id, &record, starts_at, room, handed, members, tenure)?;
        live.lock().stock = store.stock(event_id).await?;
        Ok(Some(Arc::new(live)))
    }

    /// Whether this replica runs `event`'s room.
    pub fn runs(&self, event: Id) -> bool {
        self.room(event).is_some()
    }

    /// Which rooms this replica runs, in the distributed mode.
    pub fn tenancy(&self) -> Option<&Tenancy> {
        self.inner.tenancy.as_ref()
    }

    /// Renews the leases of the rooms this replica runs — dropping any whose tenure
    /// ended — and takes the rooms nobody runs. Nothing without a tenancy.
    pub async fn hold_rooms(&self) -> anyhow::Result<()> {
        let Some(tenancy) = &self.inner.tenancy else {
            return Ok(());
        };
        for live in self.all() {
            let held = tenancy
                .leases
                .hold(
                    live.event_id,
                    &tenancy.holder,
                    &tenancy.address,
                    tenancy.lease,
                )
                .await?;
            if held != live.tenure {
                // Lapsed (and maybe taken and given back since): what this replica holds
                // in memory may be behind the log.
                self.drop_room(live.event_id, live.tenure);
                if let Some(tenure) = held {
                    self.start_room(live.event_id, tenure).await?;
                }
            }
        }
        for event in tenancy.leases.unheld().await? {
            self.take(event).await?;
        }
        Ok(())
    }

    /// Takes `event`'s room if nobody runs it; whether this replica runs it now.
    pub async fn take(&self, event: Id) -> anyhow::Result<bool> {
        let Some(tenancy) = &self.inner.tenancy else {
            return Ok(self.runs(event));
        };
        if self.runs(event) {
            return Ok(true);
        }
        let held = tenancy
            .leases
            .hold(event, &tenancy.holder, &tenancy.address, tenancy.lease)
            .await?;
        match held {
            Some(tenure) => self.start_room(event, tenure).await,
            None => Ok(false),
        }
    }

    /// Brings `event`'s room back from the store under `tenure`; whether there is one.
    async fn start_room(&self, event: Id, tenure: i64) -> anyhow::Result<bool> {
        let Some(record) = self.inner.store.room(event).await? else {
            return Ok(false);
        };
        let Some(live) = self.restore(record, Some(tenure)).await? else {
            return Ok(false);
        };
        tracing::info!(event = %event, tenure, "running a waiting room");
        self.write_live().insert(event, live);
        Ok(true)
    }

    /// Stops running `event`'s room if it is still run under `tenure`.
    fn drop_room(&self, event: Id, tenure: Option<i64>) {
        let mut live = self.write_live();
        if live.get(&event).is_some_and(|room| room.tenure == tenure) {
            live.remove(&event);
            tracing::info!(event = %event, "no longer running a waiting room");
        }
    }

    /// Lets every lease this replica holds go, so other replicas take its rooms at once
    /// (a replica stopping).
    pub async fn let_go(&self) {
        let Some(tenancy) = &self.inner.tenancy else {
            return;
        };
        for live in self.all() {
            if let Some(tenure) = live.tenure {
                self.drop_room(live.event_id, live.tenure);
                if let Err(err) = tenancy.leases.let_go(live.event_id, tenure).await {
                    tracing::warn!(error = format!("{err:#}"), "letting a room's lease go");
                }
            }
        }
    }

    /// What a write of `live`'s room came to: a tenure found over drops the room here
    /// and tells the caller to ask again (the new runner answers).
    fn settled(&self, live: &LiveRoom, written: anyhow::Result<()>) -> Result<(), RoomError> {
        written.map_err(|err| {
            let refused = write_refused(err);
            if matches!(refused, RoomError::Moved) {
                self.drop_room(live.event_id, live.tenure);
            }
            refused
        })
    }

    fn now(&self) -> i64 {
        millis(self.inner.clock.now())
    }

    fn write_live(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<Id, Arc<LiveRoom>>> {
        self.inner
            .live
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn room(&self, event: Id) -> Option<Arc<LiveRoom>> {
        self.inner
            .live
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&event)
            .cloned()
    }

    fn all(&self) -> Vec<Arc<LiveRoom>> {
        self.inner
            .live
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    pub fn settings(&self) -> RoomSettings {
        self.inner.settings
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// Puts a room in front of `event`'s tickets, or changes it: `caller` must have
    /// created the event; the opening must lie ahead (and before the event starts), and
    /// can move only until it happened; the limit is at least 1.
    pub async fn set_up(
        &self,
        caller: Id,
        event: Id,
        opens_at: OffsetDateTime,
        per_account_limit: u32,
    ) -> Result<RoomInfo, RoomError> {
        let facts = self
            .inner
            .store
            .event(event)
            .await?
            .ok_or(RoomError::NotFound)?;
        if facts.creator != caller {
            return Err(RoomError::NotCreator);
        }
        if per_account_limit < 1 {
            return Err(invalid(
                "perAccountLimit",
                "PerAccountLimit must be at least 1",
            ));
        }
        let now = self.now();
        let opens_at = millis(opens_at);
        if opens_at >= facts.starts_at {
            return Err(invalid(
                "opensAt",
                "OpensAt must be before the event starts",
            ));
        }
        if let Some(live) = self.room(event) {
            return self.change(&live, opens_at, per_account_limit, now).await;
        }
        if opens_at <= now {
            return Err(invalid("opensAt", "OpensAt must be in the future"));
        }
        // Distributed: the room is this replica's to create only once it holds its lease;
        // a room another replica just created is then changed here instead.
        let tenure = match &self.inner.tenancy {
            None => None,
            Some(tenancy) => {
                let held = tenancy
                    .leases
                    .hold(event, &tenancy.holder, &tenancy.address, tenancy.lease)
                    .await?;
                let Some(tenure) = held else {
                    return Err(RoomError::Moved);
                };
                if self.start_room(event, tenure).await?
                    && let Some(live) = self.room(event)
                {
                    return self.change(&live, opens_at, per_account_limit, now).await;
                }
                Some(tenure)
            }
        };
        let seed = Seed::generate()?;
        let mut salt = [0_u8; 32];
        getrandom::fill(&mut salt).map_err(|err| anyhow::anyhow!("no randomness: {err}"))?;
        let record = RoomRecord {
            event_id: event,
            opens_at,
            per_account_limit,
            seed: seed.reveal(),
            salt: hex::encode(salt),
            gate_version: 0,
        };
        let room = Room::new(seed, opens_at, self.inner.settings.config, now);
        let entries = room.log().entries().to_vec();
        let gate = gate_event(&record, true, self.inner.clock.now());
        let saved = self
            .inner
            .store
            .save_room(&record, &entries, Some(&gate), tenure)
            .await;
        // The lease lapsed since it was taken: whoever holds it now sets the room up.
        saved.map_err(write_refused)?;
        let live = LiveRoom::new(
            event,
            &record,
            facts.starts_at,
            room,
            entries.len(),
            HashMap::new(),
            tenure,
        )?;
        // Known from the start, so the first joiners are told the truth before a tick.
        live.lock().stock = self.inner.store.stock(event).await?;
        let live = Arc::new(live);
        let info = live.info();
        // A second set-up racing this one lost at the store's primary key only if it
        // wrote first; either way one room is kept.
        self.write_live().entry(event).or_insert(live);
        Ok(info)
    }

    async fn change(
        &self,
        live: &LiveRoom,
        opens_at: i64,
        per_account_limit: u32,
        now: i64,
    ) -> Result<RoomInfo, RoomError> {
        // One change of a room's settings at a time, so gate versions follow each other.
        let _changing = live.changing.lock().await;
        let (record, gate) = {
            let cell = live.lock();
            if cell.room.has_ended() {
                return Err(invalid("opensAt", "The sale of this room is over"));
            }
            if opens_at != cell.room.opens_at() {
                if opens_at <= now {
                    return Err(invalid("opensAt", "OpensAt must be in the future"));
                }
                if cell.room.state() != RoomState::Prequeue {
                    return Err(invalid(
                        "opensAt",
                        "The room is open; its opening cannot move",
                    ));
                }
            }
            // Decided on a copy, kept only once saved: a failed save changes nothing.
            let mut record = cell.record.clone();
            record.opens_at = opens_at;
            let limit_changed = record.per_account_limit != per_account_limit;
            record.per_account_limit = per_account_limit;
            let gate = limit_changed.then(|| {
                record.gate_version += 1;
                gate_event(&record, true, self.inner.clock.now())
            });
            (record, gate)
        };
        let saved = self
            .inner
            .store
            .save_room(&record, &[], gate.as_ref(), live.tenure)
            .await;
        self.settled(live, saved)?;
        {
            let mut cell = live.lock();
            // Opened in the meantime: the saved opening is the one it opened at or later,
            // which no longer matters.
            cell.room.reschedule(opens_at);
            cell.record = record;
        }
        Ok(live.info())
    }

    /// The room in front of `event`, if any.
    pub fn info(&self, event: Id) -> Option<RoomInfo> {
        self.room(event).map(|live| live.info())
    }

    /// `user` takes a place in `event`'s room, or keeps theirs (a sign of life).
    pub async fn join(&self, user: Id, event: Id) -> Result<Place, RoomError> {
        let live = self.room(event).ok_or(RoomError::NotFound)?;
        let pid = live.pid_of(user);
        let now = self.now();
        let written = {
            let mut cell = live.lock();
            if !cell.members.contains_key(&pid) {
                cell.members.insert(pid.clone(), user);
            }
            cell.room.join(&pid, now);
            self.hand_over(&live, &mut cell, vec![(pid.clone(), user)], None)
        };
        self.settled(&live, written.await)?;
        Ok(live.place(&pid, now, &self.inner.settings))
    }

    /// A sign of life from `user`'s place (a heartbeat, a page load); their place.
    pub async fn touch(&self, user: Id, event: Id) -> Result<Place, RoomError> {
        let live = self.room(event).ok_or(RoomError::NotFound)?;
        let pid = live.pid_of(user);
        let now = self.now();
        let written = {
            let mut cell = live.lock();
            if !cell.members.contains_key(&pid) {
                return Err(RoomError::NotFound);
            }
            cell.room.touch(&pid, now);
            self.hand_over(&live, &mut cell, Vec::new(), None)
        };
        self.settled(&live, written.await)?;
        Ok(live.place(&pid, now, &self.inner.settings))
    }

    /// `user`'s place, without a sign of life.
    pub fn place(&self, user: Id, event: Id) -> Result<Place, RoomError> {
        let live = self.room(event).ok_or(RoomError::NotFound)?;
        let pid = live.pid_of(user);
        if !live.lock().members.contains_key(&pid) {
            return Err(RoomError::NotFound);
        }
        Ok(live.place(&pid, self.now(), &self.inner.settings))
    }

    /// `user` leaves `event`'s room (fine if they were not in it).
    pub async fn leave(&self, user: Id, event: Id) -> Result<(), RoomError> {
        let live = self.room(event).ok_or(RoomError::NotFound)?;
        let pid = live.pid_of(user);
        let now = self.now();
        let written = {
            let mut cell = live.lock();
            cell.room.leave(&pid, now);
            cell.admissions.remove(&pid);
            self.hand_over(&live, &mut cell, Vec::new(), None)
        };
        self.settled(&live, written.await)?;
        Ok(())
    }

    /// `user` ordered tickets of `event`: their admission was used.
    pub async fn ordered(&self, user: Id, event: Id) -> anyhow::Result<()> {
        let Some(live) = self.room(event) else {
            return Ok(());
        };
        let pid = live.pid_of(user);
        let now = self.now();
        let written = {
            let mut cell = live.lock();
            cell.room.ordered(&pid, now);
            self.hand_over(&live, &mut cell, Vec::new(), None)
        };
        match self.settled(&live, written.await) {
            // The new runner reads the order from the store.
            Ok(()) | Err(RoomError::Moved) => Ok(()),
            Err(err) => Err(anyhow::Error::new(err)),
        }
    }

    /// `user`'s pseudonym in `event`'s room and the room's live snapshots, for a feed.
    pub fn follow(
        &self,
        user: Id,
        event: Id,
    ) -> Result<(String, watch::Receiver<Arc<Snapshot>>), RoomError> {
        let live = self.room(event).ok_or(RoomError::NotFound)?;
        let pid = live.pid_of(user);
        if !live.lock().members.contains_key(&pid) {
            return Err(RoomError::NotFound);
        }
        Ok((pid, live.snapshot.subscribe()))
    }

    /// A sign of life from a live feed: no need to wait for the log.
    pub fn feed_alive(&self, event: Id, pid: &str) {
        if let Some(live) = self.room(event) {
            let now = self.now();
            let mut cell = live.lock();
            cell.room.touch(pid, now);
            drop(self.hand_over(&live, &mut cell, Vec::new(), None));
        }
    }

    /// The room's whole fairness log, as exported lines.
    ///
    /// Read from the store: only what is written, and without holding the room.
    pub async fn log_lines(&self, event: Id) -> Result<String, RoomError> {
        if self.room(event).is_none() {
            return Err(RoomError::NotFound);
        }
        Ok(entries_to_lines(&self.inner.store.log(event).await?))
    }

    /// Moves every room on to now: admissions, leases, the opening, the end of the sale.
    pub async fn tick(&self) -> anyhow::Result<()> {
        let mut places = [0_u64; 3];
        for live in self.all() {
            if live.lock().room.has_ended() && live.snapshot.borrow().state == live.state() {
                continue;
            }
            let stock = self.inner.store.stock(live.event_id).await?;
            // Orders another replica consumed (distributed mode): admissions used.
            let seen = live.orders_seen.load(Ordering::Relaxed);
            let orders = self.inner.store.orders_after(live.event_id, seen).await?;
            // The event may have moved since the room was set up.
            let starts_at = self
                .inner
                .store
                .event(live.event_id)
                .await?
                .map_or(live.starts_at, |event| event.starts_at);
            let Ticked {
                written,
                snapshot,
                grants,
            } = self.tick_room(&live, stock, starts_at, &orders)?;
            if let Some(&(last, _)) = orders.last() {
                live.orders_seen.store(last, Ordering::Relaxed);
            }
            // Nobody hears of a decision, or gets an admission, before the log holds it.
            match self.settled(&live, written.await) {
                Ok(()) => {}
                Err(RoomError::Moved) => continue,
                Err(err) => return Err(anyhow::Error::new(err)),
            }
            live.lock().admissions.extend(grants);
            live.snapshot.send_replace(snapshot);
            for view in live.snapshot.borrow().views.values() {
                match view.state {
                    PlaceState::Prequeue | PlaceState::Waiting => places[0] += 1,
                    PlaceState::Parked => places[1] += 1,
                    PlaceState::Admitted => places[2] += 1,
                    _ => {}
                }
            }
        }
        for (state, count) in ROOM_PLACE_STATES.iter().zip(places) {
            metrics::gauge!(ROOM_PLACES, "state" => *state).set(count as f64);
        }
        Ok(())
    }

    /// Moves one room on; what it decided is handed to the writer, and the snapshot and
    /// the new admissions are returned to be published once it is written.
    fn tick_room(
        &self,
        live: &Arc<LiveRoom>,
        stock: Stock,
        starts_at: i64,
        orders: &[(i64, Id)],
    ) -> anyhow::Result<Ticked<impl std::future::Future<Output = anyhow::Result<()>> + use<>>> {
        let now_at = self.inner.clock.now();
        let now = millis(now_at);
        let mut cell = live.lock();
        cell.stock = stock;
        for &(_, buyer) in orders {
            cell.room.ordered(&live.pid_of(buyer), now);
        }
        let was_open = !cell.room.has_ended();
        let admitted = if now >= starts_at {
            cell.room.close(now);
            Vec::new()
        } else {
            let admitted = cell.room.tick(now, stock);
            if cell.room.state() == RoomState::SoldOut && was_open {
                cell.room.close(now);
            }
            admitted
        };
        metrics::counter!(ROOM_ADMISSIONS).increment(admitted.len() as u64);
        let ttl = Duration::from_millis(self.inner.settings.config.admission_ms.max(0) as u64);
        let mut grants = Vec::with_capacity(admitted.len());
        for pid in admitted {
            let Some(&user) = cell.members.get(&pid) else {
                continue;
            };
            let seq = cell
                .room
                .log()
                .entries()
                .iter()
                .rev()
                .find(|e| matches!(&e.what, What::Admit { pid: p } if *p == pid))
                .map_or(0, |e| e.seq);
            let (token, admission) =
                self.inner
                    .keys
                    .issue(user, live.event_id, seq, now_at, ttl)?;
            grants.push((
                pid,
                Granted {
                    token,
                    expires_at: admission.expires_at,
                },
            ));
        }
        let views: HashMap<String, PlaceView> = cell
            .room
            .views()
            .into_iter()
            .map(|(pid, view)| (pid.to_owned(), view))
            .collect();
        let waiting = views
            .values()
            .filter(|view| {
                matches!(
                    view.state,
                    PlaceState::Prequeue | PlaceState::Waiting | PlaceState::Parked
                )
            })
            .count() as u64;
        cell.admissions.retain(|pid, _| {
            views
                .get(pid)
                .is_some_and(|view| view.state == PlaceState::Admitted)
        });
        if was_open && cell.room.has_ended() {
            // The sale is over and the seed revealed: check the room's own log, as anyone
            // may with `boxoffice verify-room`.
            let verification = verify(cell.room.log().entries());
            self.inner
                .inversions
                .fetch_add(verification.inversions, Ordering::Relaxed);
            metrics::gauge!(ROOM_INVERSIONS)
                .set(self.inner.inversions.load(Ordering::Relaxed) as f64);
            if !verification.holds() {
                metrics::counter!(ROOM_LOG_FAULTS).increment(1);
                tracing::error!(event = %live.event_id, ?verification, "a room's fairness log does not verify");
            }
        }
        let gate = if was_open && cell.room.has_ended() {
            cell.record.gate_version += 1;
            Some((
                cell.record.gate_version,
                gate_event(&cell.record, false, now_at),
            ))
        } else {
            None
        };
        let mut admissions = cell.admissions.clone();
        admissions.extend(grants.iter().cloned());
        let snapshot = Snapshot {
            state: cell.room.state(),
            views,
            admissions,
            head: cell.room.log().head(),
            stock,
            at: now,
            projection: Arc::new(cell.room.projection(now, stock)),
            conversion: cell.room.conversion(),
            waiting,
            opens_in: (cell.room.opens_at() - now).max(0),
        };
        let written = self.hand_over(live, &mut cell, Vec::new(), gate);
        Ok(Ticked {
            written,
            snapshot: Arc::new(snapshot),
            grants,
        })
    }

    /// Hands what `cell`'s log gained since the last hand-over to the writer, with new
    /// `members` and a `gate` to publish; the future resolves once it is written.
    fn hand_over(
        &self,
        live: &LiveRoom,
        cell: &mut Cell,
        members: Vec<(String, Id)>,
        gate: Option<(i64, Envelope)>,
    ) -> impl std::future::Future<Output = anyhow::Result<()>> + use<> {
        let entries: Vec<Entry> = cell.room.log().entries()[cell.handed..].to_vec();
        cell.handed += entries.len();
        let nothing = entries.is_empty() && members.is_empty() && gate.is_none();
        let (done, written) = oneshot::channel();
        if !nothing {
            self.inner.writer.hand(Appendix {
                event: live.event_id,
                entries,
                members,
                gate,
                tenure: live.tenure,
                done,
            });
        }
        async move {
            if nothing {
                return Ok(());
            }
            written
                .await
                .map_err(|_| anyhow::anyhow!("the fairness log writer stopped"))?
        }
    }
}

/// What a refused write of a room tells the caller: a tenure found over means the room
/// has another runner now (ask again); anything else is a fault.
fn write_refused(err: anyhow::Error) -> RoomError {
    if err.is::<TenureOver>() {
        RoomError::Moved
    } else {
        RoomError::Internal(err)
    }
}

fn invalid(field: &'static str, message: &'static str) -> RoomError {
    RoomError::Invalid { field, message }
}

/// `room:gate` for `record`'s room, open or ended.
fn gate_event(record: &RoomRecord, open: bool, now: OffsetDateTime) -> Envelope {
    Envelope::new(
        SOURCE,
        now,
        &RoomGate {
            event_id: record.event_id,
            version: record.gate_version,
            open,
            per_account_limit: record.per_account_limit,
        },
    )
}

fn entries_to_lines(entries: &[Entry]) -> String {
    let mut out = String::new();
    for entry in entries {
        out.push_str(&serde_json::to_string(entry).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// A buyer's place with what they are told about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    pub pid: String,
    pub view: PlaceView,
    pub room_state: RoomState,
    pub estimate: Estimate,
    pub admission: Option<Granted>,
    pub head: Head,
}

/// The honest part of a place: a range, a chance and the numbers behind them.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    /// Seconds; `None` when no pace is known yet.
    pub low_seconds: Option<u64>,
    pub high_seconds: Option<u64>,
    pub chance: Chance,
    /// Tickets not yet sold (free or held by unpaid orders).
    pub tickets_left: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Chance {
    Likely,
    Even,
    Unlikely,
    SoldOut,
}

/// The range shown around a projected wait, as shares of it.
const WAIT_LOW: f64 = 0.7;
const WAIT_HIGH: f64 = 1.3;

/// What `view` may expect in a room with `snapshot`'s pace and stock.
pub fn estimate(view: &PlaceView, snapshot: &Snapshot, settings: &RoomSettings) -> Estimate {
    let tickets_left = snapshot.stock.free + snapshot.stock.held;
    let ended = matches!(snapshot.state, RoomState::SoldOut)
        || view.state == PlaceState::SoldOut
        || (tickets_left == 0 && snapshot.stock.sold > 0);
    let ahead = view.ahead.unwrap_or(0);
    let ceiling = f64::from(settings.config.admit_per_minute);
    let (low, high) = if view.state == PlaceState::Prequeue {
        // Nobody has a rank before the opening: at least the time until it, the rest
        // unknown until the draw.
        (Some(snapshot.opens_in.max(0) as u64 / 1_000), None)
    } else if view.position.is_none() {
        (Some(0), Some(0))
    } else if let Some(at) = view.position.and_then(|p| snapshot.projection.at(p)) {
        // The projected admission, give or take what a projection of people's choices
        // can know.
        let seconds = (at - snapshot.at).max(0) as f64 / 1_000.0;
        (
            Some((seconds * WAIT_LOW).floor() as u64),
            Some((seconds * WAIT_HIGH).ceil() as u64 + 1),
        )
    } else {
        // The tickets are expected to run out first: only the shortest wait (the room's
        // most admissions a minute) can be said.
        (Some((ahead as f64 * 60.0 / ceiling).floor() as u64), None)
    };
    // Before the opening nobody has a rank yet: on average half the others will be
    // drawn ahead.
    let ahead = if view.state == PlaceState::Prequeue {
        snapshot.waiting.saturating_sub(1) / 2
    } else {
        ahead
    };
    // Tickets for each buyer ahead expected to buy, and one for this one: at least one
    // each is likely, half as many even.
    let buyers_ahead = ahead as f64 * snapshot.conversion.unwrap_or(1.0);
    let cover = f64::from(tickets_left) / (buyers_ahead + 1.0);
    let chance = if ended {
        Chance::SoldOut
    } else if cover >= 1.0 {
        Chance::Likely
    } else if cover >= 0.5 {
        Chance::Even
    } else {
        Chance::Unlikely
    };
    Estimate {
        low_seconds: low,
        high_seconds: high,
        chance,
        tickets_left,
    }
}

impl LiveRoom {
    fn new(
        event_id: Id,
        record: &RoomRecord,
        starts_at: i64,
        room: Room,
        handed: usize,
        members: HashMap<String, Id>,
        tenure: Option<i64>,
    ) -> anyhow::Result<Self> {
        let salt = hex::decode(&record.salt).context("a room's stored salt")?;
        let snapshot = Snapshot {
            state: room.state(),
            views: HashMap::new(),
            admissions: HashMap::new(),
            head: room.log().head(),
            stock: Stock {
                free: 0,
                held: 0,
                sold: 0,
            },
            at: 0,
            projection: Arc::new(Projection {
                admitted_at: Vec::new(),
            }),
            conversion: None,
            waiting: 0,
            opens_in: 0,
        };
        let (snapshot, _) = watch::channel(Arc::new(snapshot));
        Ok(Self {
            event_id,
            salt,
            starts_at,
            cell: Mutex::new(Cell {
                room,
                record: record.clone(),
                handed,
                members,
                admissions: HashMap::new(),
                stock: Stock {
                    free: 0,
                    held: 0,
                    sold: 0,
                },
            }),
            snapshot,
            changing: tokio::sync::Mutex::new(()),
            tenure,
            orders_seen: AtomicI64::new(0),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cell> {
        self.cell
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn pid_of(&self, user: Id) -> String {
        pid(&self.salt, &user.to_string())
    }

    fn state(&self) -> RoomState {
        self.lock().room.state()
    }

    fn info(&self) -> RoomInfo {
        let cell = self.lock();
        RoomInfo {
            event_id: self.event_id,
            state: cell.room.state(),
            opens_at: cell.room.opens_at(),
            per_account_limit: cell.record.per_account_limit,
            commitment: cell.room.commitment(),
            head: cell.room.log().head(),
        }
    }

    /// `pid`'s place: as the last tick saw it (what the live feeds were told, and one
    /// look-up rather than a walk of the line), or from the engine for a place the last
    /// tick has not seen yet; the estimate from the last tick's pace and stock.
    fn place(&self, pid: &str, now: i64, settings: &RoomSettings) -> Place {
        let ticked = Arc::clone(&self.snapshot.borrow());
        let cell = self.lock();
        let view = ticked
            .views
            .get(pid)
            .cloned()
            .unwrap_or_else(|| cell.room.view(pid));
        let snapshot = Snapshot {
            state: cell.room.state(),
            views: HashMap::new(),
            admissions: HashMap::new(),
            head: cell.room.log().head(),
            stock: cell.stock,
            at: now,
            projection: Arc::clone(&ticked.projection),
            conversion: cell.room.conversion(),
            waiting: ticked.waiting,
            opens_in: (cell.room.opens_at() - now).max(0),
        };
        Place {
            pid: pid.to_owned(),
            estimate: estimate(&view, &snapshot, settings),
            admission: (view.state == PlaceState::Admitted)
                .then(|| cell.admissions.get(pid).cloned())
                .flatten(),
            room_state: cell.room.state(),
            head: snapshot.head,
            view,
        }
    }
}
