//! The seat map the basket rush's buyers look at: which seats of each event they believe
//! are free.
//!
//! Buyers want seats together and near the front, and they choose from what they can see —
//! a map that only learns of a basket once its `201` is back. Many buyers in flight at once
//! therefore pick the same front-row windows, and the server alone decides who gets them:
//! the refusals the rush counts are real races, not the load generator asking for seats it
//! already knows are gone.

use std::ops::Range;
use std::sync::{Mutex, MutexGuard};

/// Smallest basket a buyer asks for.
pub const MIN_BASKET: usize = 2;
/// How many of the front-most free windows a buyer chooses among.
const FRONT: usize = 8;

/// Per event, per seat: `true` once a basket holding it came back (until it is cancelled).
#[derive(Debug)]
pub struct SeatMap {
    events: Vec<Mutex<Vec<bool>>>,
}

impl SeatMap {
    /// A map of free seats: `seats[e]` seats for event `e`.
    pub fn new(seats: impl IntoIterator<Item = usize>) -> Self {
        Self {
            events: seats
                .into_iter()
                .map(|n| Mutex::new(vec![false; n]))
                .collect(),
        }
    }

    fn event(&self, event: usize) -> MutexGuard<'_, Vec<bool>> {
        self.events[event]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adjacent seats of `event` that look free, as many as `wanted` if such a window is
    /// left (else the largest left, down to [`MIN_BASKET`]), chosen at random among the
    /// front-most few; `None` when no [`MIN_BASKET`] adjacent seats look free.
    pub fn choose(
        &self,
        event: usize,
        wanted: usize,
        rng: &mut fastrand::Rng,
    ) -> Option<Range<usize>> {
        let taken = self.event(event);
        (MIN_BASKET..=wanted.max(MIN_BASKET))
            .rev()
            .find_map(|size| {
                let starts: Vec<usize> = free_windows(&taken, size).take(FRONT).collect();
                (!starts.is_empty()).then(|| {
                    let start = starts[rng.usize(..starts.len())];
                    start..start + size
                })
            })
    }

    /// [`SeatMap::choose`] on a random event, or on the next one with seats left.
    pub fn choose_any(
        &self,
        wanted: usize,
        rng: &mut fastrand::Rng,
    ) -> Option<(usize, Range<usize>)> {
        let events = self.events.len();
        if events == 0 {
            return None;
        }
        let first = rng.usize(..events);
        (0..events)
            .map(|offset| (first + offset) % events)
            .find_map(|event| self.choose(event, wanted, rng).map(|seats| (event, seats)))
    }

    /// A basket holding `seats` came back.
    pub fn take(&self, event: usize, seats: Range<usize>) {
        self.event(event)[seats].fill(true);
    }

    /// The basket holding `seats` was cancelled: they are free again.
    pub fn release(&self, event: usize, seats: Range<usize>) {
        self.event(event)[seats].fill(false);
    }

    /// No event has [`MIN_BASKET`] adjacent seats that look free.
    pub fn sold_out(&self) -> bool {
        (0..self.events.len()).all(|event| {
            free_windows(&self.event(event), MIN_BASKET)
                .next()
                .is_none()
        })
    }
}

/// Where the windows of `size` adjacent free seats start, front first.
fn free_windows(taken: &[bool], size: usize) -> impl Iterator<Item = usize> + '_ {
    taken
        .windows(size.max(1))
        .enumerate()
        .filter(|(_, window)| window.iter().all(|seat| !seat))
        .map(|(start, _)| start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buyers_pick_adjacent_free_seats_near_the_front() {
        let map = SeatMap::new([40]);
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..100 {
            let seats = map.choose(0, 3, &mut rng).expect("seats left");
            assert_eq!(seats.len(), 3);
            assert!(seats.end <= FRONT + 2, "front rows first: {seats:?}");
        }
    }

    #[test]
    fn taken_seats_are_avoided_until_released() {
        let map = SeatMap::new([5]);
        let mut rng = fastrand::Rng::with_seed(1);
        map.take(0, 0..2);
        map.take(0, 3..5);
        assert_eq!(map.choose(0, 4, &mut rng), None, "only seat 2 is free");
        assert!(map.sold_out());
        map.release(0, 3..5);
        let seats = map.choose(0, 4, &mut rng).expect("three free now");
        assert_eq!(seats, 2..5, "the largest window left when 4 do not fit");
        assert!(!map.sold_out());
    }

    #[test]
    fn another_event_is_tried_when_one_is_full() {
        let map = SeatMap::new([4, 4]);
        let mut rng = fastrand::Rng::with_seed(3);
        map.take(0, 0..4);
        for _ in 0..20 {
            let (event, seats) = map.choose_any(2, &mut rng).expect("event 1 has seats");
            assert_eq!(event, 1);
            assert_eq!(seats.len(), 2);
        }
        map.take(1, 0..4);
        assert_eq!(map.choose_any(2, &mut rng), None);
        assert!(SeatMap::new([]).choose_any(2, &mut rng).is_none());
    }
}
