//! Opening databases the way every store wants them.
//!
//! * [`sqlite`] — the embedded mode: one file per service, WAL, one writer connection.
//! * [`postgres`] — the distributed mode: a pool per service database.

pub mod postgres;
pub mod sqlite;
