//! SQLite for the embedded mode.
//!
//! SQLite allows one writer at a time. Funnelling every write through a pool of exactly
//! one connection makes writers queue in the pool (cheap, fair, async) instead of
//! spinning on `SQLITE_BUSY`, while WAL lets a separate reader pool run concurrently.
//! Write transactions still start with `BEGIN IMMEDIATE` so that a second process on the
//! same file (never intended, but possible) waits for the lock instead of failing with
//! `SQLITE_BUSY_SNAPSHOT` halfway through.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

/// How long a connection waits for another process's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Readers allowed at once; reads in WAL mode never block the writer.
const READERS: u32 = 4;

/// A service's SQLite file: one writer connection and a small pool of readers.
#[derive(Debug, Clone)]
pub struct SqliteDb {
    /// The only connection that writes. Use [`SqliteDb::begin_write`] for transactions.
    pub writer: SqlitePool,
    /// Read-only connections.
    pub reader: SqlitePool,
}

impl SqliteDb {
    /// Opens (creating if needed) the database file at `path`.
    pub async fn open(path: &Path) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .with_context(|| format!("opening {}", path.display()))?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READERS)
            .connect_with(options.read_only(true))
            .await
            .with_context(|| format!("opening {} for reading", path.display()))?;
        Ok(Self { writer, reader })
    }

    /// Starts a write transaction that holds the write lock from its first statement.
    pub async fn begin_write(&self) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.writer.begin_with("BEGIN IMMEDIATE").await
    }

    /// Cheap reachability check for `/readyz`.
    pub async fn ping(&self) -> sqlx::Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.reader)
            .await
            .map(drop)
    }
}

/// Timestamps are stored as RFC 3339 text with a fixed width (UTC, nanoseconds), so that
/// text order is time order and `<` comparisons in SQL are correct.
pub fn time_text(at: time::OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.nanosecond()
    )
}

/// The current time as [`time_text`].
pub fn now_text() -> String {
    time_text(time::OffsetDateTime::now_utc())
}

/// Reads a timestamp written by [`time_text`].
pub fn parse_time(text: &str) -> anyhow::Result<time::OffsetDateTime> {
    Ok(time::OffsetDateTime::parse(
        text,
        &time::format_description::well_known::Rfc3339,
    )?)
}
