//! One room's rules, as a pure state machine on an explicit clock (Unix milliseconds), so
//! that the same code runs in the service and in the simulation that proves it fair.
//!
//! * Before `opens_at` buyers join the **prequeue**; at the opening it is shuffled by the
//!   seed ([`Seed::shuffle`]). Later joiners line up in arrival order behind it.
//! * A place stays **live** while it shows signs of life (a join, a heartbeat, an open
//!   feed) at least once per `lease`; otherwise it is **parked**, keeping its rank for
//!   `grace`, then **released**. A parked place that comes back takes its rank again.
//! * **Admission follows stock**: live places are admitted in order while the admitted
//!   but not yet ordered places are fewer than the free tickets × a factor learned from
//!   recent conversion, and at most `admit_per_minute` a minute. An admission unused for
//!   `admission_window` is released, which frees its slot for the next place.
//! * With every free ticket held the room **pauses**; with nothing free or held it is
//!   **sold out** and everyone waiting is released at once.
//!
//! Every decision goes into the [`FairnessLog`].

use std::collections::{HashMap, VecDeque};

use serde::Serialize;

pub use self::projection::Projection;
use super::fairness::Seed;
use super::log::{FairnessLog, What};

/// A room's timing and pace.
#[derive(Debug, Clone, Copy)]
pub struct RoomConfig {
    /// Longest silence (milliseconds) before a live place is parked.
    pub lease_ms: i64,
    /// How long (milliseconds) a parked place keeps its rank.
    pub grace_ms: i64,
    /// How long (milliseconds) an admission may go unused.
    pub admission_ms: i64,
    /// Most admissions per minute.
    pub admit_per_minute: u32,
}

impl Default for RoomConfig {
    fn default() -> Self {
        Self {
            lease_ms: 30_000,
            grace_ms: 120_000,
            admission_ms: 120_000,
            admit_per_minute: 600,
        }
    }
}

/// Where a room is in its life (CONTRACT §12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomState {
    Prequeue,
    Open,
    Paused,
    SoldOut,
    Closed,
}

/// The event's stock as the room sees it at a tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stock {
    /// Tickets nobody holds.
    pub free: u32,
    /// Tickets held by orders not yet paid.
    pub held: u32,
    /// Tickets sold. A room with nothing free or held is sold out only once something was
    /// sold: before, its tickets may simply not be listed (or known) yet.
    pub sold: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Waiting,
    Parked { since: i64 },
    Admitted { until: i64 },
    Ordered,
    Released,
}

#[derive(Debug, Clone)]
struct Place {
    status: Status,
    last_seen: i64,
}

/// A buyer's view of their place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlaceView {
    pub state: PlaceState,
    /// 1 for the next place to be admitted; `None` before the opening (the prequeue is
    /// not ranked yet) and once the place is no longer waiting.
    pub position: Option<u64>,
    /// Places ahead that are still waiting (live or parked).
    pub ahead: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlaceState {
    Prequeue,
    Waiting,
    Parked,
    Admitted,
    Ordered,
    Released,
    SoldOut,
}

/// How far back conversion is learned from.
const CONVERSION_WINDOW: usize = 200;
/// The admission factor's bounds: at least one admission per free ticket, at most three.
const MIN_FACTOR: f64 = 1.0;
const MAX_FACTOR: f64 = 3.0;
const MINUTE_MS: i64 = 60_000;

/// One room.
#[derive(Debug)]
pub struct Room {
    config: RoomConfig,
    seed: Seed,
    opens_at: i64,
    state: RoomState,
    places: HashMap<String, Place>,
    /// Before the opening: arrival order. After: the room's order (ranked, then arrivals).
    /// A place taken again after its release is added at the end; its old entry stays
    /// and is skipped (see [`Room::in_order`]).
    order: Vec<String>,
    /// Index in `order` of each pseudonym's current place.
    position_of: HashMap<String, usize>,
    /// Times of the admissions of the last minute.
    recent_admissions: VecDeque<i64>,
    /// Of the last admissions that ended, whether each ordered.
    outcomes: VecDeque<bool>,
    log: FairnessLog,
}

impl Room {
    /// A room opening at `opens_at`, set up at `now`: its commitment is the first entry.
    pub fn new(seed: Seed, opens_at: i64, config: RoomConfig, now: i64) -> Self {
        let mut log = FairnessLog::default();
        log.append(
            now,
            What::Commit {
                commitment: seed.commitment(),
            },
        );
        Self {
            config,
            seed,
            opens_at,
            state: RoomState::Prequeue,
            places: HashMap::new(),
            order: Vec::new(),
            position_of: HashMap::new(),
            recent_admissions: VecDeque::new(),
            outcomes: VecDeque::new(),
            log,
        }
    }

    pub fn state(&self) -> RoomState {
        self.state
    }

    /// Whether the sale is over (sold out or closed): nothing more will be admitted.
    pub fn has_ended(&self) -> bool {
        matches!(self.state, RoomState::SoldOut | RoomState::Closed)
    }

    /// When the prequeue is shuffled and admission begins (Unix milliseconds).
    pub fn opens_at(&self) -> i64 {
        self.opens_at
    }

    /// Moves the opening; only before it happened. Whether it moved.
    pub fn reschedule(&mut self, opens_at: i64) -> bool {
        if self.state != RoomState::Prequeue {
            return false;
        }
        self.opens_at = opens_at;
        true
    }

    /// SHA-256 of the seed, published before anyone joins.
    pub fn commitment(&self) -> String {
        self.seed.commitment()
    }

    /// The share of recent admissions that ordered, once any admission has ended.
    pub fn conversion(&self) -> Option<f64> {
        let ordered = self.outcomes.iter().filter(|&&o| o).count();
        (!self.outcomes.is_empty()).then(|| ordered as f64 / self.outcomes.len() as f64)
    }

    /// Each pseudonym once, at its current place, in the room's order, with its place.
    fn in_order(&self) -> impl Iterator<Item = (&String, &Place)> {
        self.order.iter().enumerate().filter_map(|(i, pid)| {
            (self.position_of.get(pid) == Some(&i))
                .then(|| self.places.get(pid).map(|place| (pid, place)))
                .flatten()
        })
    }

    pub fn log(&self) -> &FairnessLog {
        &self.log
    }

    /// Takes a place for `pid`, or keeps the one it has (a sign of life). A place that was
    /// released is taken again at the end.
    pub fn join(&mut self, pid: &str, now: i64) -> PlaceView {
        let known = self
            .places
            .get(pid)
            .is_some_and(|p| p.status != Status::Released);
        if known {
            self.touch(pid, now);
        } else if !matches!(self.state, RoomState::SoldOut | RoomState::Closed) {
            self.places.insert(
                pid.to_owned(),
                Place {
                    status: Status::Waiting,
                    last_seen: now,
                },
            );
            self.position_of.insert(pid.to_owned(), self.order.len());
            self.order.push(pid.to_owned());
            self.log.append(
                now,
                What::Join {
                    pid: pid.to_owned(),
                },
            );
        }
        self.view(pid)
    }

    /// A sign of life: renews the lease; a parked place within its grace comes back.
    pub fn touch(&mut self, pid: &str, now: i64) {
        let Some(place) = self.places.get_mut(pid) else {
            return;
        };
        place.last_seen = now;
        if let Status::Parked { since } = place.status
            && now - since <= self.config.grace_ms
        {
            place.status = Status::Waiting;
            self.log.append(
                now,
                What::Return {
                    pid: pid.to_owned(),
                },
            );
        }
    }

    /// The buyer leaves; their place is released.
    pub fn leave(&mut self, pid: &str, now: i64) {
        if let Some(place) = self.places.get(pid)
            && matches!(
                place.status,
                Status::Waiting | Status::Parked { .. } | Status::Admitted { .. }
            )
        {
            let admitted = matches!(place.status, Status::Admitted { .. });
            self.release(pid, now);
            if admitted {
                self.record_outcome(false);
            }
        }
    }

    /// An admitted buyer ordered (the orders service said so).
    pub fn ordered(&mut self, pid: &str, now: i64) {
        if let Some(place) = self.places.get_mut(pid)
            && matches!(place.status, Status::Admitted { .. })
        {
            place.status = Status::Ordered;
            self.log.append(
                now,
                What::Order {
                    pid: pid.to_owned(),
                },
            );
            self.record_outcome(true);
        }
    }

    /// Moves the room on to `now` with the event's `stock`: opens it, parks and releases
    /// silent places, returns unused admissions, pauses or ends it, and admits. Returns the
    /// pseudonyms admitted.
    pub fn tick(&mut self, now: i64, stock: Stock) -> Vec<String> {
        if matches!(self.state, RoomState::SoldOut | RoomState::Closed) {
            return Vec::new();
        }
        if self.state == RoomState::Prequeue {
            if now < self.opens_at {
                return Vec::new();
            }
            self.open(now);
        }
        self.expire(now);
        if stock.free == 0 && stock.held == 0 && stock.sold > 0 {
            self.sell_out(now);
            return Vec::new();
        }
        if stock.free == 0 {
            self.state = RoomState::Paused;
            return Vec::new();
        }
        self.state = RoomState::Open;
        self.admit(now, stock.free)
    }

    /// Ends the sale and publishes the seed.
    pub fn close(&mut self, now: i64) {
        if self.state != RoomState::SoldOut {
            self.state = RoomState::Closed;
        }
        self.log.append(
            now,
            What::Reveal {
                seed: self.seed.reveal(),
            },
        );
    }

    fn open(&mut self, now: i64) {
        let prequeue: Vec<&str> = self
            .in_order()
            .filter(|(_, place)| place.status != Status::Released)
            .map(|(pid, _)| pid.as_str())
            .collect();
        let ranked: Vec<String> = self
            .seed
            .shuffle(prequeue)
            .into_iter()
            .map(str::to_owned)
            .collect();
        self.order.clone_from(&ranked);
        self.position_of = ranked
            .iter()
            .enumerate()
            .map(|(i, pid)| (pid.clone(), i))
            .collect();
        self.log.append(now, What::Ranked { pids: ranked });
        self.state = RoomState::Open;
    }

    fn expire(&mut self, now: i64) {
        let config = self.config;
        let mut lapsed = Vec::new();
        let mut released = Vec::new();
        let mut unused = Vec::new();
        for (pid, place) in self.in_order() {
            match place.status {
                Status::Waiting if now - place.last_seen > config.lease_ms => {
                    lapsed.push(pid.clone());
                }
                Status::Parked { since } if now - since > config.grace_ms => {
                    released.push(pid.clone());
                }
                Status::Admitted { until } if now > until => unused.push(pid.clone()),
                _ => {}
            }
        }
        for pid in lapsed {
            if let Some(place) = self.places.get_mut(&pid) {
                // Parked from when its lease ran out, not from this tick: its grace is
                // counted from its last sign of life.
                place.status = Status::Parked {
                    since: place.last_seen + config.lease_ms,
                };
            }
            self.log.append(now, What::Lapse { pid });
        }
        for pid in released {
            self.release(&pid, now);
        }
        for pid in unused {
            self.release(&pid, now);
            self.record_outcome(false);
        }
    }

    fn sell_out(&mut self, now: i64) {
        self.state = RoomState::SoldOut;
        self.log.append(now, What::SoldOut);
        let waiting: Vec<String> = self
            .in_order()
            .filter(|(_, place)| matches!(place.status, Status::Waiting | Status::Parked { .. }))
            .map(|(pid, _)| pid.clone())
            .collect();
        for pid in waiting {
            self.release(&pid, now);
        }
    }

    fn admit(&mut self, now: i64, free: u32) -> Vec<String> {
        while self
            .recent_admissions
            .front()
            .is_some_and(|&at| now - at >= MINUTE_MS)
        {
            self.recent_admissions.pop_front();
        }
        let outstanding = self
            .places
            .values()
            .filter(|p| matches!(p.status, Status::Admitted { .. }))
            .count();
        let target = (f64::from(free) * self.factor()).ceil() as usize;
        let rate_room =
            (self.config.admit_per_minute as usize).saturating_sub(self.recent_admissions.len());
        let wanted = target.saturating_sub(outstanding).min(rate_room);
        let admitted: Vec<String> = self
            .in_order()
            .filter(|(_, place)| place.status == Status::Waiting)
            .take(wanted)
            .map(|(pid, _)| pid.clone())
            .collect();
        for pid in &admitted {
            if let Some(place) = self.places.get_mut(pid) {
                place.status = Status::Admitted {
                    until: now + self.config.admission_ms,
                };
            }
            self.recent_admissions.push_back(now);
            self.log.append(now, What::Admit { pid: pid.clone() });
        }
        admitted
    }

    /// Admissions per free ticket: one over the recent share of admissions that ordered,
    /// within [`MIN_FACTOR`]..=[`MAX_FACTOR`]; 1 until something is known.
    fn factor(&self) -> f64 {
        let ordered = self.outcomes.iter().filter(|&&o| o).count();
        if self.outcomes.is_empty() || ordered == 0 {
            return if self.outcomes.is_empty() {
                MIN_FACTOR
            } else {
                MAX_FACTOR
            };
        }
        (self.outcomes.len() as f64 / ordered as f64).clamp(MIN_FACTOR, MAX_FACTOR)
    }

    fn record_outcome(&mut self, ordered: bool) {
        self.outcomes.push_back(ordered);
        if self.outcomes.len() > CONVERSION_WINDOW {
            self.outcomes.pop_front();
        }
    }

    fn release(&mut self, pid: &str, now: i64) {
        if let Some(place) = self.places.get_mut(pid) {
            place.status = Status::Released;
            self.log.append(
                now,
                What::Release {
                    pid: pid.to_owned(),
                },
            );
        }
    }

    /// Every place as its buyer sees it, in one pass (what a live feed sends to all).
    pub fn views(&self) -> HashMap<&str, PlaceView> {
        let mut ahead = 0;
        let mut views = HashMap::with_capacity(self.places.len());
        for (pid, place) in self.in_order() {
            let state = self.state_of(place);
            let waiting = matches!(state, PlaceState::Waiting | PlaceState::Parked);
            views.insert(
                pid.as_str(),
                PlaceView {
                    state,
                    position: waiting.then_some(ahead + 1),
                    ahead: waiting.then_some(ahead),
                },
            );
            if waiting {
                ahead += 1;
            }
        }
        views
    }

    fn state_of(&self, place: &Place) -> PlaceState {
        match (place.status, self.state) {
            (Status::Waiting | Status::Parked { .. }, RoomState::SoldOut) => PlaceState::SoldOut,
            (Status::Waiting, RoomState::Prequeue) => PlaceState::Prequeue,
            (Status::Waiting, _) => PlaceState::Waiting,
            (Status::Parked { .. }, _) => PlaceState::Parked,
            (Status::Admitted { .. }, _) => PlaceState::Admitted,
            (Status::Ordered, _) => PlaceState::Ordered,
            (Status::Released, RoomState::SoldOut) => PlaceState::SoldOut,
            (Status::Released, _) => PlaceState::Released,
        }
    }

    /// `pid`'s place as its buyer sees it.
    pub fn view(&self, pid: &str) -> PlaceView {
        let Some(place) = self.places.get(pid) else {
            return PlaceView {
                state: PlaceState::Released,
                position: None,
                ahead: None,
            };
        };
        let state = self.state_of(place);
        if !matches!(state, PlaceState::Waiting | PlaceState::Parked) {
            return PlaceView {
                state,
                position: None,
                ahead: None,
            };
        }
        let ahead = self
            .in_order()
            .take_while(|(other, _)| other.as_str() != pid)
            .filter(|(_, place)| matches!(place.status, Status::Waiting | Status::Parked { .. }))
            .count() as u64;
        PlaceView {
            state,
            position: Some(ahead + 1),
            ahead: Some(ahead),
        }
    }
}

mod projection;
mod replay;
#[cfg(test)]
mod tests;
