//! When each waiting place can expect its turn: a projection of the admissions to come,
//! from how the room admits rather than from a pace.
//!
//! After the opening burst a room admits in waves: an admission that goes unused frees
//! its slot when its window ends (or when its buyer leaves), and the next place is let in.
//! The projection follows the expected flow: every outstanding admission frees
//! `1 − conversion` of a slot at the end of its window, every admission it causes does the
//! same one window later, and each admission uses `conversion` of a ticket until the free
//! tickets are gone. Before the opening the first wave is the free tickets × the factor,
//! at `opens_at`. A measured pace would read the opening burst as the room's speed and be
//! wrong for everyone after it.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::{Room, RoomState, Status, Stock};

/// The conversion assumed before any admission has ended.
const ASSUMED_CONVERSION: f64 = 0.5;
/// The least share of a slot that an admission frees (a room whose every admission
/// orders still moves: orders fail, holds lapse).
const LEAST_RETURN: f64 = 0.05;

/// When the 1st, 2nd, … waiting place (in the room's order) is expected to be admitted,
/// in Unix milliseconds; shorter than the line where the tickets are expected to run out
/// first.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    pub admitted_at: Vec<i64>,
}

impl Projection {
    /// The expected admission of the place `position` (1 = next), if it is expected at all.
    pub fn at(&self, position: u64) -> Option<i64> {
        let index = usize::try_from(position.checked_sub(1)?).ok()?;
        self.admitted_at.get(index).copied()
    }
}

impl Room {
    /// The projection at `now` with the event's `stock`.
    pub fn projection(&self, now: i64, stock: Stock) -> Projection {
        let waiting = self
            .in_order()
            .filter(|(_, place)| matches!(place.status, Status::Waiting | Status::Parked { .. }))
            .count();
        let mut admitted_at = Vec::with_capacity(waiting);
        if waiting == 0 || matches!(self.state, RoomState::SoldOut | RoomState::Closed) {
            return Projection { admitted_at };
        }
        let conversion = self.conversion().unwrap_or(ASSUMED_CONVERSION);
        let returns = (1.0 - conversion).max(LEAST_RETURN);
        let window = self.config.admission_ms.max(1);
        // (when, slots) of slots expected to free up; times in whole milliseconds.
        let mut frees: BinaryHeap<Reverse<(i64, u64)>> = BinaryHeap::new();
        let push = |heap: &mut BinaryHeap<Reverse<(i64, u64)>>, at: i64, slots: f64| {
            // Kept in thousandths of a slot so the heap holds integers.
            heap.push(Reverse((at, (slots * 1_000.0).round() as u64)));
        };
        if self.state == RoomState::Prequeue {
            let first = f64::from(stock.free) * self.factor();
            push(&mut frees, self.opens_at.max(now), first);
        } else {
            for (_, place) in self.in_order() {
                if let Status::Admitted { until } = place.status {
                    push(&mut frees, until.max(now), returns);
                }
            }
        }
        let mut tickets = f64::from(stock.free);
        let mut admitted = 0.0_f64;
        let rate_per_ms = f64::from(self.config.admit_per_minute.max(1)) / 60_000.0;
        while let Some(Reverse((at, thousandths))) = frees.pop() {
            if admitted_at.len() >= waiting || tickets <= 0.0 {
                break;
            }
            let slots = thousandths as f64 / 1_000.0;
            let wave = slots
                .min(waiting as f64 - admitted)
                .min(tickets / conversion.max(0.01));
            if wave <= 0.0 {
                continue;
            }
            let before = admitted;
            admitted += wave;
            tickets -= wave * conversion;
            // Spread over the time the room's rate needs to let the wave in.
            let span = wave / rate_per_ms;
            while (admitted_at.len() as f64) < admitted.floor() && admitted_at.len() < waiting {
                let within = (admitted_at.len() as f64 + 1.0 - before).max(0.0) / wave;
                admitted_at.push(at + (span * within) as i64);
            }
            push(&mut frees, at + window, wave * returns);
        }
        Projection { admitted_at }
    }
}
