//! A room brought back from its fairness log after a restart. The log records every
//! decision, so replaying it rebuilds the order, each place's state, the admissions of
//! the last minute and the conversion learned so far. Signs of life are not logged: every
//! place still waiting is taken as seen at the restart, so a restart never parks anyone.

use std::collections::{HashMap, VecDeque};

use super::{MINUTE_MS, Place, Room, RoomConfig, RoomState, Status};
use crate::room::fairness::Seed;
use crate::room::log::{Entry, FairnessLog, What};

impl Room {
    /// The room whose log is `entries`, as it stood after the last of them, at `now`.
    pub fn restore(
        seed: Seed,
        opens_at: i64,
        config: RoomConfig,
        entries: Vec<Entry>,
        now: i64,
    ) -> anyhow::Result<Self> {
        let log = FairnessLog::from_entries(entries)?;
        let mut room = Self {
            config,
            seed,
            opens_at,
            state: RoomState::Prequeue,
            places: HashMap::new(),
            order: Vec::new(),
            position_of: HashMap::new(),
            recent_admissions: VecDeque::new(),
            outcomes: VecDeque::new(),
            log: FairnessLog::default(),
        };
        for entry in log.entries() {
            room.replay(entry, now);
        }
        room.log = log;
        Ok(room)
    }

    fn replay(&mut self, entry: &Entry, now: i64) {
        let at = entry.at;
        match &entry.what {
            What::Commit { .. } => {}
            What::Join { pid } => {
                self.places.insert(
                    pid.clone(),
                    Place {
                        status: Status::Waiting,
                        last_seen: now,
                    },
                );
                self.position_of.insert(pid.clone(), self.order.len());
                self.order.push(pid.clone());
            }
            What::Ranked { pids } => {
                self.order.clone_from(pids);
                self.position_of = pids
                    .iter()
                    .enumerate()
                    .map(|(i, pid)| (pid.clone(), i))
                    .collect();
                self.state = RoomState::Open;
            }
            What::Admit { pid } => {
                self.set(
                    pid,
                    Status::Admitted {
                        until: at + self.config.admission_ms,
                    },
                );
                if now - at < MINUTE_MS {
                    self.recent_admissions.push_back(at);
                }
            }
            What::Lapse { pid } => self.set(pid, Status::Parked { since: at }),
            What::Return { pid } => self.set(pid, Status::Waiting),
            What::Release { pid } => {
                let was_admitted = self
                    .places
                    .get(pid)
                    .is_some_and(|p| matches!(p.status, Status::Admitted { .. }));
                self.set(pid, Status::Released);
                if was_admitted {
                    self.record_outcome(false);
                }
            }
            What::Order { pid } => {
                self.set(pid, Status::Ordered);
                self.record_outcome(true);
            }
            What::SoldOut => self.state = RoomState::SoldOut,
            What::Reveal { .. } => {
                if self.state != RoomState::SoldOut {
                    self.state = RoomState::Closed;
                }
            }
        }
    }

    fn set(&mut self, pid: &str, status: Status) {
        if let Some(place) = self.places.get_mut(pid) {
            place.status = status;
        }
    }
}
