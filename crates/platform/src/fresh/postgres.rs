//! Fresh ids across replicas on PostgreSQL: `NOTIFY` on commit, one `LISTEN` per process.
//!
//! The store that applies a replica update calls [`announce`] inside its transaction;
//! PostgreSQL delivers the notification when (and only if) that transaction commits, to
//! every session listening on [`CHANNEL`] in the same database — every replica of the
//! service. Each process runs [`listen`] under its supervisor: one connection taken from
//! the service's pool for good, forwarding each announced id to the local [`FreshIds`].
//!
//! Notifications are not queued for a listener that is not connected. After a lost
//! connection (or at start, before the first `LISTEN`) every local waiter is woken to look
//! again, and a waiter's last look at its deadline covers anything still missed.

use std::time::Duration;

use boxoffice_common::Id;
use sqlx::PgConnection;
use sqlx::postgres::{PgListener, PgPool};
use tokio_util::sync::CancellationToken;

use super::FreshIds;

/// The notification channel ids are announced on (per database, so per service).
pub const CHANNEL: &str = "boxoffice_fresh_ids";

/// Pause before connecting again after the listening connection failed.
const RECONNECT_PAUSE: Duration = Duration::from_millis(500);

/// Announces, on commit of the caller's transaction, that `id` is now known here.
///
/// `NOTIFY` makes committing transactions queue on a lock for a moment, so call it only
/// when an id becomes known (a replica row created), not for every update.
pub async fn announce(conn: &mut PgConnection, id: Id) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(id.to_string())
        .execute(conn)
        .await
        .map(drop)
}

/// Forwards announced ids to `fresh` until `stop`, reconnecting with a pause after
/// errors. Run it through the supervisor (`ServiceParts::task`): it returns only when
/// stopping.
pub async fn listen(pool: PgPool, fresh: FreshIds, stop: CancellationToken) -> anyhow::Result<()> {
    loop {
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            failed = follow(&pool, &fresh) => {
                tracing::warn!(
                    service = fresh.service(),
                    error = format!("{failed:#}"),
                    "lost the fresh-id listener; reconnecting"
                );
            }
        }
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            () = tokio::time::sleep(RECONNECT_PAUSE) => {}
        }
    }
}

/// Listens until an error; only returns with one.
async fn follow(pool: &PgPool, fresh: &FreshIds) -> anyhow::Error {
    let mut listener = match PgListener::connect_with(pool).await {
        Ok(listener) => listener,
        Err(err) => return err.into(),
    };
    if let Err(err) = listener.listen(CHANNEL).await {
        return err.into();
    }
    // Anything committed before the LISTEN took effect was not delivered to us.
    fresh.notify_all();
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => match notification.payload().parse::<Id>() {
                Ok(id) => fresh.notify(id),
                Err(_) => tracing::warn!(
                    payload = notification.payload(),
                    "ignoring a fresh-id notification that is not an id"
                ),
            },
            // The connection dropped and was made again (re-listening): some may be lost.
            Ok(None) => fresh.notify_all(),
            Err(err) => return err.into(),
        }
    }
}
