//! The source of "now".
//!
//! Services never call `OffsetDateTime::now_utc()` directly: expiry, token lifetimes and
//! rate-limit windows all take a [`Clock`] so that tests can move time instead of sleeping.

use std::fmt::Debug;

use time::OffsetDateTime;

/// Tells the current time. Implementations must be cheap and thread-safe.
pub trait Clock: Debug + Send + Sync + 'static {
    fn now(&self) -> OffsetDateTime;
}

/// The wall clock, in UTC.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}
