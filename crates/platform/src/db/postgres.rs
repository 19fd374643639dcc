//! PostgreSQL for the distributed mode.

use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgPool, PgPoolOptions};

/// Connections per service instance. Several replicas share one server, whose default
/// `max_connections` is 100, so each stays modest.
const MAX_CONNECTIONS: u32 = 16;

/// Connects to a service database, failing after a short wait so a misconfigured URL is
/// reported at start-up rather than on the first request.
pub async fn connect(url: &str) -> anyhow::Result<PgPool> {
    connect_at_most(url, MAX_CONNECTIONS).await
}

/// [`connect`] with at most `max` connections, for a part of a service that needs few
/// (the queue's waiting rooms: a group-committing writer and a few reads a tick).
pub async fn connect_at_most(url: &str, max: u32) -> anyhow::Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(5))
        .connect(url)
        .await
        .context("connecting to PostgreSQL (is DATABASE_URL right and the server up?)")
}

/// Cheap reachability check for `/readyz`.
pub async fn ping(pool: &PgPool) -> sqlx::Result<()> {
    sqlx::query("SELECT 1").execute(pool).await.map(drop)
}
