//! Read your own writes across services: waiting, bounded, for a fresh id to replicate.
//!
//! A client that has just been given an id (a ticket, an order) may use it at once on
//! another service, whose copy of that data is filled by events and can be a few
//! milliseconds behind. Answering `404` then would show the client the event plumbing.
//! [`FreshIds`] closes that window without making unknown ids expensive:
//!
//! 1. The caller looks the id up in its replica as usual ([`FreshIds::lookup`]). Found: done.
//! 2. Not found, and the id is not a UUIDv7 or its timestamp is older than the bound (or
//!    further in the future than the bound): answer "unknown" at once. Random and made-up
//!    ids cost one lookup, never a wait.
//! 3. Otherwise the id may be in flight. The caller **registers** as a waiter for the id,
//!    **then** looks again — so a commit between the first lookup and the registration is
//!    seen by the second lookup, and one after it wakes the waiter. It then sleeps until
//!    [`FreshIds::notify`] is called for the id (the consumer committed it) and looks again,
//!    until the id is found or its time runs out: an id is waited for at most until it is
//!    `bound` old. No database connection is held while sleeping.
//!
//! Who calls [`FreshIds::notify`]: in the embedded mode the consumer that applied the
//! event, right after its transaction committed. In the distributed mode the consumer may
//! run in another replica than the one answering HTTP, so the store also announces the id
//! from inside the replica-applying transaction — PostgreSQL delivers a `NOTIFY` on
//! commit to every listener — and each process keeps one listening connection that
//! notifies its local waiters ([`postgres`]). A lost listener connection notifies every
//! waiter once it is back, as they may have missed their id.
//!
//! Waits are counted (see [`FreshStats`], and the `fresh_id_*` metrics) so that added
//! latency is visible and a test can prove an old unknown id was answered without one.

pub mod postgres;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use boxoffice_common::Id;
use boxoffice_common::id::age_of;
use time::OffsetDateTime;
use tokio::sync::watch;

/// The fresh-id waiters of one service in one process. Cheap to clone; clones share
/// waiters and counters.
#[derive(Clone)]
pub struct FreshIds {
    inner: Arc<Inner>,
}

/// Something else to wake with an id's notice.
type Wake = Arc<dyn Fn(Id) + Send + Sync>;

struct Inner {
    /// The service whose replica this guards, for metrics and logs.
    service: &'static str,
    /// How long after its creation an unknown id is waited for.
    bound: Duration,
    /// Ids being waited for. A watch channel per id: a receiver made at registration
    /// sees every `notify` sent after it, even one sent while its owner was looking.
    waiting: Mutex<HashMap<Id, watch::Sender<()>>>,
    /// Others woken by the same notices (see [`FreshIds::also_wake`]).
    also: Mutex<Vec<Wake>>,
    counters: Counters,
}

#[derive(Default)]
struct Counters {
    not_fresh: AtomicU64,
    waits: AtomicU64,
    found: AtomicU64,
    timed_out: AtomicU64,
    waited_micros: AtomicU64,
}

/// What a [`FreshIds`] has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FreshStats {
    /// Unknown ids answered at once: not a v7, or too old (or too far ahead) to be in flight.
    pub not_fresh: u64,
    /// Lookups that waited for their id.
    pub waits: u64,
    /// Waits that ended with the id found.
    pub found: u64,
    /// Waits that reached the bound with the id still unknown.
    pub timed_out: u64,
    /// Time spent waiting, summed over every wait.
    pub waited: Duration,
}

impl std::fmt::Debug for FreshIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FreshIds")
            .field("service", &self.inner.service)
            .field("bound", &self.inner.bound)
            .finish_non_exhaustive()
    }
}

impl FreshIds {
    /// Waiters for `service`'s replica, waiting for an id until it is `bound` old. A zero
    /// bound never waits.
    pub fn new(service: &'static str, bound: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                service,
                bound,
                waiting: Mutex::default(),
                also: Mutex::default(),
                counters: Counters::default(),
            }),
        }
    }

    pub fn service(&self) -> &'static str {
        self.inner.service
    }

    pub fn bound(&self) -> Duration {
        self.inner.bound
    }

    /// Looks `id` up with `look` (the replica read, answering `None` for an id it does
    /// not know); when unknown but fresh, waits for it as the module describes. `look`
    /// must hold no connection once its future is done.
    pub async fn lookup<T, E, F, Fut>(&self, id: Id, mut look: F) -> Result<Option<T>, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<T>, E>>,
    {
        if let Some(found) = look().await? {
            return Ok(Some(found));
        }
        self.wait_for(id, look).await
    }

    /// The rest of [`Self::lookup`], for a caller whose first lookup was something else
    /// that already missed (a write that refused an unknown id): when `id` is fresh,
    /// registers, looks again with `look` and waits; otherwise answers `None` with no
    /// lookup at all.
    pub async fn wait_for<T, E, F, Fut>(&self, id: Id, mut look: F) -> Result<Option<T>, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<T>, E>>,
    {
        let Some(remaining) = self.remaining(id, OffsetDateTime::now_utc()) else {
            self.inner
                .counters
                .not_fresh
                .fetch_add(1, Ordering::Relaxed);
            metrics::counter!(crate::telemetry::names::FRESH_ID_NOT_FRESH, "service" => self.inner.service)
                .increment(1);
            return Ok(None);
        };
        self.inner.counters.waits.fetch_add(1, Ordering::Relaxed);
        let started = tokio::time::Instant::now();
        let deadline = started + remaining;
        // Registered before the look below: a commit after this line wakes us.
        let mut waiter = self.register(id);
        let outcome = loop {
            if let Some(found) = look().await? {
                break Some(found);
            }
            tokio::select! {
                biased;
                // A closed channel cannot happen while we hold a receiver; look again anyway.
                _ = waiter.receiver.changed() => {}
                () = tokio::time::sleep_until(deadline) => {
                    // One last look covers a notification lost with a listener connection.
                    break look().await?;
                }
            }
        };
        self.record(started.elapsed(), outcome.is_some());
        Ok(outcome)
    }

    /// Wakes whoever waits for `id`: a commit made it known. Call it after the commit.
    pub fn notify(&self, id: Id) {
        {
            let waiting = self.waiting();
            if let Some(sender) = waiting.get(&id) {
                sender.send_replace(());
            }
        }
        let also = self
            .inner
            .also
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for wake in also {
            wake(id);
        }
    }

    /// Passes every notice this service hears — from its own consumer or, through the
    /// PostgreSQL listener, from any replica's commit — on to `wake` too: one listener
    /// connection per process serves the service's other waiters (a payment request
    /// waiting for its decision, which another replica's consumer may commit).
    pub fn also_wake(&self, wake: impl Fn(Id) + Send + Sync + 'static) {
        self.inner
            .also
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(Arc::new(wake));
    }

    /// Wakes every waiter to look again: notifications may have been lost (a listener
    /// connection dropped, a feed lagged).
    pub fn notify_all(&self) {
        for sender in self.waiting().values() {
            sender.send_replace(());
        }
    }

    /// What has been done so far.
    pub fn stats(&self) -> FreshStats {
        let c = &self.inner.counters;
        FreshStats {
            not_fresh: c.not_fresh.load(Ordering::Relaxed),
            waits: c.waits.load(Ordering::Relaxed),
            found: c.found.load(Ordering::Relaxed),
            timed_out: c.timed_out.load(Ordering::Relaxed),
            waited: Duration::from_micros(c.waited_micros.load(Ordering::Relaxed)),
        }
    }

    /// How much longer `id` may be waited for at `now`; `None` when it is not fresh.
    fn remaining(&self, id: Id, now: OffsetDateTime) -> Option<Duration> {
        let bound = self.inner.bound;
        let age = age_of(id, now)?;
        // A clock a little behind the id's creator's makes a fresh id look "from the
        // future"; as far ahead as the bound is still fresh, and waited for one bound.
        let age = if age.is_negative() {
            (age.unsigned_abs() < bound).then_some(Duration::ZERO)?
        } else {
            age.unsigned_abs()
        };
        bound.checked_sub(age).filter(|left| !left.is_zero())
    }

    fn register(&self, id: Id) -> Waiter<'_> {
        let mut waiting = self.waiting();
        let receiver = match waiting.get(&id) {
            Some(sender) => sender.subscribe(),
            None => {
                let (sender, receiver) = watch::channel(());
                waiting.insert(id, sender);
                receiver
            }
        };
        Waiter {
            fresh: self,
            id,
            receiver,
        }
    }

    fn record(&self, waited: Duration, found: bool) {
        let c = &self.inner.counters;
        let micros = u64::try_from(waited.as_micros()).unwrap_or(u64::MAX);
        c.waited_micros.fetch_add(micros, Ordering::Relaxed);
        let outcome = if found {
            c.found.fetch_add(1, Ordering::Relaxed);
            "found"
        } else {
            c.timed_out.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(
                service = self.inner.service,
                "a fresh id stayed unknown for its whole bound"
            );
            "timeout"
        };
        metrics::counter!(crate::telemetry::names::FRESH_ID_WAITS, "service" => self.inner.service, "outcome" => outcome)
            .increment(1);
        metrics::histogram!(crate::telemetry::names::FRESH_ID_WAIT, "service" => self.inner.service)
            .record(waited.as_secs_f64());
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, HashMap<Id, watch::Sender<()>>> {
        self.inner
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// One registered waiter; unregisters when dropped (the last one removes the id).
struct Waiter<'a> {
    fresh: &'a FreshIds,
    id: Id,
    receiver: watch::Receiver<()>,
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        let mut waiting = self.fresh.waiting();
        // Our receiver is still alive here, so "only us" is a count of one.
        if waiting
            .get(&self.id)
            .is_some_and(|sender| sender.receiver_count() <= 1)
        {
            waiting.remove(&self.id);
        }
    }
}
