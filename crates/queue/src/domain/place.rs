//! Where a buyer stands in a line, and an estimate of their wait.

use boxoffice_common::Id;
use time::{Duration, OffsetDateTime};

use super::{Rules, TicketState};

/// A buyer's place in a line, as the API reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// 1-based; 1 is the head.
    pub position: u64,
    pub total: u64,
    pub estimated_wait_seconds: u64,
    /// The wait if everyone ahead passes as soon as their turn starts: the rest of the
    /// current hold or of someone else's turn. With `estimated_wait_seconds`, the range a
    /// page shows — the wait is never one precise number.
    pub earliest_wait_seconds: u64,
    /// Set while it is this buyer's turn.
    pub turn_expires_at: Option<OffsetDateTime>,
}

impl Rules {
    /// Where `user`, waiting at `position` of `total`, stands. The wait is an estimate
    /// that assumes everyone ahead lets their turn pass: the rest of the current hold (or
    /// turn), then one full turn per buyer still ahead.
    pub fn place(
        &self,
        state: &TicketState,
        user: Id,
        position: u64,
        total: u64,
        now: OffsetDateTime,
    ) -> Place {
        let remaining = |until: OffsetDateTime| (until - now).max(Duration::ZERO);
        let turn_seconds = self.turn.whole_seconds().max(0) as u64;
        let ahead = position.saturating_sub(1);
        let (turn_expires_at, current, wait) = match (state.turn, state.holder) {
            (Some(turn), _) if turn.user_id == user => {
                (Some(turn.expires_at), Duration::ZERO, Duration::ZERO)
            }
            (Some(turn), _) => (
                None,
                remaining(turn.expires_at),
                remaining(turn.expires_at)
                    + Duration::seconds((ahead.saturating_sub(1) * turn_seconds) as i64),
            ),
            (None, Some(holder)) => (
                None,
                remaining(holder.expires_at),
                remaining(holder.expires_at) + Duration::seconds((ahead * turn_seconds) as i64),
            ),
            (None, None) => (
                None,
                Duration::ZERO,
                Duration::seconds((ahead * turn_seconds) as i64),
            ),
        };
        Place {
            position,
            total,
            estimated_wait_seconds: whole_seconds_up(wait),
            earliest_wait_seconds: whole_seconds_up(current),
            turn_expires_at,
        }
    }
}

/// A non-negative duration in whole seconds, rounded up.
fn whole_seconds_up(duration: Duration) -> u64 {
    duration.whole_seconds().max(0) as u64 + u64::from(duration.subsec_nanoseconds() > 0)
}
