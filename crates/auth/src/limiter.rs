//! Throttling of failed sign-ins per email.
//!
//! After [`MAX_FAILURES`] wrong attempts for one email within [`WINDOW`], further attempts
//! for that email are answered 429 until the oldest failure leaves the window — even with
//! the right password, or guessing would simply continue. Unknown emails are counted the
//! same way so that a 429 does not reveal whether an account exists.
//!
//! The failures live in the auth store, so every replica of the auth service sees the same
//! count; this module only decides.

use std::time::Duration;

use time::OffsetDateTime;

/// Wrong attempts allowed per email within [`WINDOW`].
pub const MAX_FAILURES: usize = 5;
/// How long a failure counts.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

/// The start of the window that ends at `now`.
pub fn window_start(now: OffsetDateTime) -> OffsetDateTime {
    now - WINDOW
}

/// `Err(seconds)` when, given the failures inside the window (oldest first), sign-in
/// must wait that long.
pub fn check(failures: &[OffsetDateTime], now: OffsetDateTime) -> Result<(), u64> {
    let recent: Vec<_> = failures.iter().filter(|at| **at + WINDOW > now).collect();
    if recent.len() < MAX_FAILURES {
        return Ok(());
    }
    let oldest = **recent.first().unwrap_or(&&now);
    Err(((oldest + WINDOW) - now).whole_seconds().max(1) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_limit_until_the_oldest_failure_leaves_the_window() {
        let start = OffsetDateTime::now_utc();
        let failures: Vec<_> = (0..MAX_FAILURES as i64)
            .map(|i| start + time::Duration::seconds(i))
            .collect();
        assert_eq!(check(&failures[..MAX_FAILURES - 1], start), Ok(()));
        assert_eq!(
            check(&failures, start + time::Duration::seconds(10)),
            Err(WINDOW.as_secs() - 10)
        );
        assert_eq!(
            check(&failures, start + WINDOW),
            Ok(()),
            "the oldest has left the window"
        );
    }
}
