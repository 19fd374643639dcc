//! Opening databases the way every store wants them, and what their SQL shares.
//!
//! * [`sqlite`] — the embedded mode: one file per service, WAL, one writer connection.
//! * [`postgres`] — the distributed mode: a pool per service database.
//! * [`columns`] — id and time column types that encode per database, so one row struct
//!   and one SQL text serve both.

pub mod columns;
pub mod postgres;
pub mod sqlite;

pub use columns::{DbId, DbTime};

/// Whether a statement failed on a unique index — on either database, the signal that
/// another writer got there first (one holder per ticket, one payment per order).
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// A value both databases can bind. Statements written once, generic over the database,
/// name the column types they bind with it; SQLite and PostgreSQL meet them all.
pub trait Bind<DB: sqlx::Database>: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB> + Send {}
impl<DB: sqlx::Database, T: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB> + Send> Bind<DB> for T {}
