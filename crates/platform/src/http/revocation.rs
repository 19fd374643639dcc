//! Ended sessions: what every service checks, locally, before it trusts a session token.
//!
//! A session token is valid until it expires, wherever it is shown. Signing out ends it
//! earlier (ASVS 7.4.1): the auth service records the end in its store and publishes it
//! through its outbox —
//!
//! * `session:revoked {sid, userId, expiresAt}` — this one session (the token's `sid`);
//! * `user:signed-out-everywhere {userId, validAfter}` — every session of the user that
//!   started at or before `validAfter` (a session's start is the time in its UUIDv7 `sid`,
//!   in milliseconds, so a sign-in right after the sign-out is not caught by it).
//!
//! Every process that authenticates requests keeps a [`Revocations`] table in memory,
//! shared by its services through [`super::SessionKeys`], fed by [`follow`] from the bus.
//! The table is small — one entry per ended session until its token would have expired
//! anyway, one per user who signed out everywhere until all their old tokens have — and it
//! survives a restart: the embedded mode reloads it from the auth store at start, and in
//! the distributed mode each process replays the two events from the stream for one
//! session lifetime back before it serves.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use boxoffice_common::Id;
use boxoffice_common::events::{
    Event, SESSION_REVOKED, SessionRevoked, USER_SIGNED_OUT_EVERYWHERE, UserSignedOutEverywhere,
};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::bus::Subscription;

/// The event types [`follow`] subscribes to.
pub const SESSION_EVENTS: &[&str] = &[SESSION_REVOKED, USER_SIGNED_OUT_EVERYWHERE];

/// Sessions that ended before their expiry. Cheap to clone; clones share the table.
#[derive(Debug, Clone, Default)]
pub struct Revocations {
    inner: Arc<RwLock<Table>>,
}

#[derive(Debug, Default)]
struct Table {
    /// Revoked session id → when its token expires (Unix seconds).
    sessions: HashMap<Id, i64>,
    /// User → sessions started at or before this moment (Unix milliseconds) are over.
    users: HashMap<Id, i64>,
    /// Inserts since the last sweep of entries that no longer matter.
    since_sweep: usize,
}

/// Entries added between two sweeps of expired ones.
const SWEEP_EVERY: usize = 1024;

impl Revocations {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the session `sid` of `user` has ended.
    pub fn is_revoked(&self, user: Id, sid: Id) -> bool {
        let table = self.inner.read().unwrap_or_else(|e| e.into_inner());
        if table.sessions.contains_key(&sid) {
            return true;
        }
        match (table.users.get(&user), session_started_ms(sid)) {
            (Some(valid_after), Some(started)) => started <= *valid_after,
            // A session id without a time cannot be placed: the sign-out wins.
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    /// Ends one session.
    pub fn revoke_session(&self, sid: Id, expires_at: OffsetDateTime) {
        let mut table = self.inner.write().unwrap_or_else(|e| e.into_inner());
        table.sessions.insert(sid, expires_at.unix_timestamp());
        table.inserted();
    }

    /// Ends every session of `user` started at or before `valid_after`.
    pub fn sign_out_everywhere(&self, user: Id, valid_after: OffsetDateTime) {
        let millis = unix_millis(valid_after);
        let mut table = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let entry = table.users.entry(user).or_insert(millis);
        *entry = (*entry).max(millis);
        table.inserted();
    }

    /// Applies a session event; other events are none of its business.
    pub fn apply(&self, event: &Event) {
        match event {
            Event::SessionRevoked(SessionRevoked {
                sid, expires_at, ..
            }) => self.revoke_session(*sid, *expires_at),
            Event::UserSignedOutEverywhere(UserSignedOutEverywhere {
                user_id,
                valid_after,
            }) => self.sign_out_everywhere(*user_id, *valid_after),
            _ => {}
        }
    }

    /// How many entries the table holds (sessions, users), for tests and logs.
    pub fn len(&self) -> (usize, usize) {
        let table = self.inner.read().unwrap_or_else(|e| e.into_inner());
        (table.sessions.len(), table.users.len())
    }

    /// Whether nothing has been revoked.
    pub fn is_empty(&self) -> bool {
        self.len() == (0, 0)
    }

    /// Forgets entries that can no longer match a valid token: revoked sessions past their
    /// expiry, and sign-outs older than `max_ttl` (every token they ended has expired).
    pub fn sweep(&self, now: OffsetDateTime, max_ttl: std::time::Duration) {
        let mut table = self.inner.write().unwrap_or_else(|e| e.into_inner());
        table.sweep(now, max_ttl);
    }
}

/// The longest session lifetime any token can have; entries older than this are swept.
const SWEEP_TTL: std::time::Duration = std::time::Duration::from_secs(366 * 24 * 60 * 60);

impl Table {
    fn inserted(&mut self) {
        self.since_sweep += 1;
        if self.since_sweep >= SWEEP_EVERY {
            self.sweep(OffsetDateTime::now_utc(), SWEEP_TTL);
        }
    }

    fn sweep(&mut self, now: OffsetDateTime, max_ttl: std::time::Duration) {
        self.since_sweep = 0;
        let now_secs = now.unix_timestamp();
        // The leeway tokens get at verification (seconds).
        self.sessions.retain(|_, exp| *exp + 60 >= now_secs);
        let oldest_live_start =
            unix_millis(now) - i64::try_from(max_ttl.as_millis()).unwrap_or(i64::MAX / 2);
        self.users.retain(|_, after| *after >= oldest_live_start);
    }
}

fn unix_millis(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// When the session `sid` started: the millisecond time of its UUIDv7.
pub fn session_started_ms(sid: Id) -> Option<i64> {
    let (secs, nanos) = sid.get_timestamp()?.to_unix();
    Some(i64::try_from(secs).ok()? * 1000 + i64::from(nanos / 1_000_000))
}

/// Applies the session events of `subscription` to `revocations` until `stop`. Every event
/// is acknowledged: applying one twice changes nothing.
pub async fn follow(
    mut subscription: Box<dyn Subscription>,
    revocations: Revocations,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    loop {
        let delivery = tokio::select! {
            () = stop.cancelled() => return Ok(()),
            next = subscription.next() => match next {
                Some(delivery) => delivery,
                None => anyhow::bail!("the session events subscription ended"),
            },
        };
        match delivery.event.event() {
            Ok(event) => revocations.apply(&event),
            Err(err) => tracing::error!(
                error = format!("{err:#}"),
                "unreadable session event ignored"
            ),
        }
        delivery.ack().await;
    }
}

/// Applies every event already waiting in `subscription` — `pending` of them, as the bus
/// counted when the subscription opened — so that a process does not serve before it knows
/// the sessions that ended while it was down. Bounded by `within`.
pub async fn catch_up(
    subscription: &mut Box<dyn Subscription>,
    revocations: &Revocations,
    pending: u64,
    within: std::time::Duration,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + within;
    for _ in 0..pending {
        let delivery = tokio::time::timeout_at(deadline, subscription.next())
            .await
            .map_err(|_| anyhow::anyhow!("replaying ended sessions took longer than {within:?}"))?
            .ok_or_else(|| anyhow::anyhow!("the session events subscription ended"))?;
        if let Ok(event) = delivery.event.event() {
            revocations.apply(&event);
        }
        delivery.ack().await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use boxoffice_common::new_id;

    use super::*;

    #[test]
    fn a_revoked_session_is_refused_and_others_are_not() {
        let revocations = Revocations::new();
        let (user, sid, other) = (new_id(), new_id(), new_id());
        revocations.revoke_session(sid, OffsetDateTime::now_utc() + Duration::from_secs(60));
        assert!(revocations.is_revoked(user, sid));
        assert!(!revocations.is_revoked(user, other));
    }

    #[test]
    fn signing_out_everywhere_ends_earlier_sessions_only() {
        let revocations = Revocations::new();
        let (user, someone_else) = (new_id(), new_id());
        let old = new_id();
        std::thread::sleep(Duration::from_millis(3));
        revocations.sign_out_everywhere(user, OffsetDateTime::now_utc());
        std::thread::sleep(Duration::from_millis(3));
        let new = new_id();
        assert!(revocations.is_revoked(user, old));
        assert!(!revocations.is_revoked(user, new), "signed in again later");
        assert!(!revocations.is_revoked(someone_else, old));
    }

    #[test]
    fn sweeping_forgets_what_can_no_longer_match() {
        let revocations = Revocations::new();
        let now = OffsetDateTime::now_utc();
        revocations.revoke_session(new_id(), now - Duration::from_secs(3600));
        revocations.revoke_session(new_id(), now + Duration::from_secs(3600));
        revocations.sign_out_everywhere(new_id(), now - Duration::from_secs(10 * 86_400));
        revocations.sign_out_everywhere(new_id(), now);
        revocations.sweep(now, Duration::from_secs(7 * 86_400));
        assert_eq!(revocations.len(), (1, 1));
    }
}
