//! Throttling of failed sign-ins per email.
//!
//! After [`MAX_FAILURES`] wrong attempts for one email within [`WINDOW`], further attempts
//! for that email are answered 429 until the oldest failure leaves the window — even with
//! the right password, or guessing would simply continue. Unknown emails are counted the
//! same way so that a 429 does not reveal whether an account exists.
//!
//! The count lives in this process. With several auth replicas each keeps its own, which
//! multiplies the allowance by the replica count but still bounds guessing.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use time::OffsetDateTime;

/// Wrong attempts allowed per email within [`WINDOW`].
pub const MAX_FAILURES: usize = 5;
/// How long a failure counts.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Above this many tracked emails, stale entries are swept on the next failure, so a
/// flood of random emails cannot grow the map without bound.
const SWEEP_THRESHOLD: usize = 10_000;

#[derive(Debug, Default)]
pub struct SigninLimiter {
    failures: Mutex<HashMap<String, VecDeque<OffsetDateTime>>>,
}

impl SigninLimiter {
    /// `Err(seconds)` when sign-in for `email` must wait that long.
    pub fn check(&self, email: &str, now: OffsetDateTime) -> Result<(), u64> {
        let mut failures = self.lock();
        let Some(times) = failures.get_mut(email) else {
            return Ok(());
        };
        prune(times, now);
        if times.len() < MAX_FAILURES {
            return Ok(());
        }
        let oldest = times.front().copied().unwrap_or(now);
        let free_at = oldest + WINDOW;
        Err((free_at - now).whole_seconds().max(1) as u64)
    }

    pub fn record_failure(&self, email: &str, now: OffsetDateTime) {
        let mut failures = self.lock();
        if failures.len() >= SWEEP_THRESHOLD {
            failures.retain(|_, times| {
                prune(times, now);
                !times.is_empty()
            });
        }
        let times = failures.entry(email.to_owned()).or_default();
        prune(times, now);
        times.push_back(now);
    }

    /// A successful sign-in forgets earlier failures.
    pub fn clear(&self, email: &str) {
        self.lock().remove(email);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<OffsetDateTime>>> {
        // The map holds no invariant a panic could break; keep going if poisoned.
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn prune(times: &mut VecDeque<OffsetDateTime>, now: OffsetDateTime) {
    while times.front().is_some_and(|t| *t + WINDOW <= now) {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_limit_until_the_window_passes() {
        let limiter = SigninLimiter::default();
        let start = OffsetDateTime::now_utc();
        for i in 0..MAX_FAILURES {
            assert_eq!(limiter.check("a@b.co", start), Ok(()), "attempt {i}");
            limiter.record_failure("a@b.co", start);
        }
        let wait = limiter.check("a@b.co", start).expect_err("blocked");
        assert_eq!(wait, WINDOW.as_secs());
        assert_eq!(limiter.check("other@b.co", start), Ok(()));
        assert_eq!(limiter.check("a@b.co", start + WINDOW), Ok(()));
    }

    #[test]
    fn success_clears_failures() {
        let limiter = SigninLimiter::default();
        let now = OffsetDateTime::now_utc();
        for _ in 0..MAX_FAILURES {
            limiter.record_failure("a@b.co", now);
        }
        limiter.clear("a@b.co");
        assert_eq!(limiter.check("a@b.co", now), Ok(()));
    }

    #[test]
    fn stale_entries_are_swept_when_the_map_is_large() {
        let limiter = SigninLimiter::default();
        let then = OffsetDateTime::now_utc();
        for i in 0..SWEEP_THRESHOLD {
            limiter.record_failure(&format!("u{i}@b.co"), then);
        }
        limiter.record_failure("late@b.co", then + WINDOW);
        assert_eq!(limiter.lock().len(), 1);
    }
}
