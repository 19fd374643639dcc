//! Column types that let one row struct and one SQL text serve both databases.
//!
//! SQLite keeps ids and times as text (fixed-width RFC 3339, so text order is time
//! order); PostgreSQL as `UUID` and `TIMESTAMPTZ`. [`DbId`] and [`DbTime`] encode and
//! decode as whichever the connection's database uses, so a store binds and reads them
//! the same way on both — only transactions and locking stay per database.

use boxoffice_common::Id;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef, Postgres};
use sqlx::sqlite::{Sqlite, SqliteArgumentsBuffer, SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Encode, Type};
use time::OffsetDateTime;

use super::sqlite::{parse_time, time_text};

/// An id column: `TEXT` on SQLite, `UUID` on PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DbId(pub Id);

/// A time column: fixed-width RFC 3339 `TEXT` on SQLite, `TIMESTAMPTZ` on PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DbTime(pub OffsetDateTime);

impl From<Id> for DbId {
    fn from(id: Id) -> Self {
        Self(id)
    }
}

impl From<DbId> for Id {
    fn from(id: DbId) -> Self {
        id.0
    }
}

impl From<OffsetDateTime> for DbTime {
    fn from(at: OffsetDateTime) -> Self {
        Self(at)
    }
}

impl From<DbTime> for OffsetDateTime {
    fn from(at: DbTime) -> Self {
        at.0
    }
}

impl Type<Sqlite> for DbId {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <String as Type<Sqlite>>::compatible(ty)
    }
}

impl Encode<'_, Sqlite> for DbId {
    fn encode_by_ref(&self, buf: &mut SqliteArgumentsBuffer) -> Result<IsNull, BoxDynError> {
        <String as Encode<Sqlite>>::encode(self.0.to_string(), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for DbId {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<Sqlite>>::decode(value)?;
        Ok(Self(Id::try_parse(text)?))
    }
}

impl Type<Postgres> for DbId {
    fn type_info() -> PgTypeInfo {
        <Id as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <Id as Type<Postgres>>::compatible(ty)
    }
}

impl Encode<'_, Postgres> for DbId {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <Id as Encode<Postgres>>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> Decode<'r, Postgres> for DbId {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Self(<Id as Decode<Postgres>>::decode(value)?))
    }
}

impl Type<Sqlite> for DbTime {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <String as Type<Sqlite>>::compatible(ty)
    }
}

impl Encode<'_, Sqlite> for DbTime {
    fn encode_by_ref(&self, buf: &mut SqliteArgumentsBuffer) -> Result<IsNull, BoxDynError> {
        <String as Encode<Sqlite>>::encode(time_text(self.0), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for DbTime {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<Sqlite>>::decode(value)?;
        Ok(Self(
            parse_time(text).map_err(|e| e.into_boxed_dyn_error())?,
        ))
    }
}

impl Type<Postgres> for DbTime {
    fn type_info() -> PgTypeInfo {
        <OffsetDateTime as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <OffsetDateTime as Type<Postgres>>::compatible(ty)
    }
}

impl Encode<'_, Postgres> for DbTime {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <OffsetDateTime as Encode<Postgres>>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> Decode<'r, Postgres> for DbTime {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Self(<OffsetDateTime as Decode<Postgres>>::decode(value)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ids_and_times_round_trip_through_sqlite_as_text() {
        let pool = sqlx::SqlitePool::connect("sqlite::memory:")
            .await
            .expect("open");
        let id = boxoffice_common::new_id();
        let at = time::macros::datetime!(2026-12-03 10:00:00.123456789 UTC);
        let (text_id, text_at, back_id, back_at): (String, String, DbId, DbTime) =
            sqlx::query_as("SELECT $1, $2, $1, $2")
                .bind(DbId(id))
                .bind(DbTime(at))
                .fetch_one(&pool)
                .await
                .expect("select");
        assert_eq!(text_id, id.to_string());
        assert_eq!(text_at, "2026-12-03T10:00:00.123456789Z");
        assert_eq!((back_id, back_at), (DbId(id), DbTime(at)));
    }
}
