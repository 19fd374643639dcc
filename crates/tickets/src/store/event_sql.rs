//! Every SQL statement of the events catalogue, written once for both databases, as the
//! ticket statements are in `sql.rs` (same [`DbId`] / [`DbTime`] columns, same
//! [`Dialect`] for the one fragment that differs).
//!
//! Every read of an event carries its ticket counts: two correlated subqueries over the
//! event's live, available tickets — a range of the partial index `tickets_by_event
//! (event_id, status, price)`, whose first entry is the cheapest. They are counted when
//! read, so they are never behind a reservation, a sale or a withdrawal. The "live" test
//! is [`Dialect::LIVE`], spelled as the index declares it, so SQLite's planner uses it.
//!
//! Reads are assembled with a [`QueryBuilder`] for that fragment; only fixed text from
//! this file goes into them, and every value (ids, keys, instants, search text) is bound.

use anyhow::Context;
use boxoffice_common::{Id, Money};
use boxoffice_platform::db::columns::{DbId, DbTime};
use sqlx::postgres::Postgres;
use sqlx::query::{Query, QueryAs};
use sqlx::{Database, Executor, FromRow, IntoArguments, Pool, QueryBuilder};

use super::EventQuery;
use super::listing::like_pattern;
use super::sql::{Column, Dialect};
use crate::domain::event::{CatalogueEvent, EventListing};

/// The duplicate is left to the unique index `events_dedup`: nothing is inserted then,
/// and the caller reads the event that holds the key ([`by_keys`]). `ON CONFLICT DO
/// NOTHING` without a target reads the same on SQLite and PostgreSQL.
const INSERT: &str = "INSERT INTO events \
     (id, name, venue, starts_at, description, user_id, version, created_at, name_key, \
      venue_key) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING";

/// The keys are saved with the fields they come from; a collision with another event
/// fails on the unique index.
const UPDATE: &str = "UPDATE events SET name = $1, venue = $2, starts_at = $3, \
     description = $4, version = $5, name_key = $6, venue_key = $7 WHERE id = $8";

/// The columns of [`EventRow`].
const COLUMNS: &str = "id, name, venue, starts_at, description, user_id, version, created_at";

/// An event by id, without its counts: what a change is shown.
const SELECT: &str = "SELECT id, name, venue, starts_at, description, user_id, version, \
     created_at FROM events WHERE id = $1";

/// PostgreSQL only: [`SELECT`], with the row locked until the transaction ends.
const SELECT_FOR_UPDATE: &str = "SELECT id, name, venue, starts_at, description, user_id, \
     version, created_at FROM events WHERE id = $1 FOR UPDATE";

/// A row of `events`, as both databases hand it back.
#[derive(Debug, FromRow)]
pub struct EventRow {
    id: DbId,
    name: String,
    venue: String,
    starts_at: DbTime,
    description: String,
    user_id: DbId,
    version: i64,
    created_at: DbTime,
}

/// An event row with its ticket counts.
#[derive(Debug, FromRow)]
pub struct EventListingRow {
    #[sqlx(flatten)]
    event: EventRow,
    tickets_available: i64,
    /// Minor units; `NULL` when nothing is available.
    min_price: Option<i64>,
}

impl From<EventRow> for CatalogueEvent {
    fn from(row: EventRow) -> Self {
        Self {
            id: row.id.into(),
            name: row.name,
            venue: row.venue,
            starts_at: row.starts_at.into(),
            description: row.description,
            user_id: row.user_id.into(),
            version: row.version,
            created_at: row.created_at.into(),
        }
    }
}

impl From<EventListingRow> for EventListing {
    fn from(row: EventListingRow) -> Self {
        Self {
            event: row.event.into(),
            tickets_available: u64::try_from(row.tickets_available).unwrap_or_default(),
            min_price: row.min_price.map(Money::from_minor),
        }
    }
}

/// Adds `event`, unless its keys are taken (then no row is affected).
pub fn insert<'q, DB>(event: &CatalogueEvent) -> Query<'q, DB, DB::Arguments>
where
    DB: Database,
    String: Column<DB>,
    i64: Column<DB>,
    DbId: Column<DB>,
    DbTime: Column<DB>,
{
    sqlx::query(INSERT)
        .bind(DbId(event.id))
        .bind(event.name.clone())
        .bind(event.venue.clone())
        .bind(DbTime(event.starts_at))
        .bind(event.description.clone())
        .bind(DbId(event.user_id))
        .bind(event.version)
        .bind(DbTime(event.created_at))
        .bind(event.name_key())
        .bind(event.venue_key())
}

/// Saves every field an edit can touch, with the keys derived from them.
pub fn update<'q, DB>(event: &CatalogueEvent) -> Query<'q, DB, DB::Arguments>
where
    DB: Database,
    String: Column<DB>,
    i64: Column<DB>,
    DbId: Column<DB>,
    DbTime: Column<DB>,
{
    sqlx::query(UPDATE)
        .bind(event.name.clone())
        .bind(event.venue.clone())
        .bind(DbTime(event.starts_at))
        .bind(event.description.clone())
        .bind(event.version)
        .bind(event.name_key())
        .bind(event.venue_key())
        .bind(DbId(event.id))
}

/// The event `id` without counts, unlocked (SQLite's writer holds the whole file).
pub fn select<'q, DB>(id: Id) -> QueryAs<'q, DB, EventRow, DB::Arguments>
where
    DB: Database,
    DbId: Column<DB>,
    EventRow: for<'r> FromRow<'r, DB::Row>,
{
    sqlx::query_as(SELECT).bind(DbId(id))
}

/// PostgreSQL: the event `id` without counts, locked for the transaction.
pub fn select_for_update<'q>(
    id: Id,
) -> QueryAs<'q, Postgres, EventRow, <Postgres as Database>::Arguments> {
    sqlx::query_as(SELECT_FOR_UPDATE).bind(DbId(id))
}

/// `SELECT <event columns>, <its counts> FROM events`, for a `WHERE` to follow.
fn with_counts<DB: Dialect>() -> QueryBuilder<DB> {
    let mut select = QueryBuilder::new("SELECT ");
    select.push(COLUMNS);
    for (aggregate, name) in [
        ("COUNT(*)", "tickets_available"),
        ("MIN(price)", "min_price"),
    ] {
        select
            .push(", (SELECT ")
            .push(aggregate)
            .push(" FROM tickets WHERE tickets.event_id = events.id AND status = 'available' AND ")
            .push(DB::LIVE)
            .push(") AS ")
            .push(name);
    }
    select.push(" FROM events");
    select
}

/// The event `id` with its counts.
pub fn by_id<DB>(id: Id) -> QueryBuilder<DB>
where
    DB: Dialect,
    DbId: Column<DB>,
{
    let mut select = with_counts::<DB>();
    select.push(" WHERE id = ").push_bind(DbId(id));
    select
}

/// The event holding `event`'s keys (name, venue, start), with its counts.
pub fn by_keys<DB>(event: &CatalogueEvent) -> QueryBuilder<DB>
where
    DB: Dialect,
    String: Column<DB>,
    DbTime: Column<DB>,
{
    let mut select = with_counts::<DB>();
    select
        .push(" WHERE name_key = ")
        .push_bind(event.name_key())
        .push(" AND venue_key = ")
        .push_bind(event.venue_key())
        .push(" AND starts_at = ")
        .push_bind(DbTime(event.starts_at));
    select
}

/// The event `id` with its counts: a read on `pool`.
pub async fn get<DB>(pool: &Pool<DB>, id: Id) -> anyhow::Result<Option<EventListing>>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    EventListingRow: for<'r> FromRow<'r, DB::Row> + Send + Unpin,
    DbId: Column<DB>,
{
    let mut select = by_id::<DB>(id);
    let row = select
        .build_query_as::<EventListingRow>()
        .fetch_optional(pool)
        .await
        .context("reading event")?;
    Ok(row.map(EventListing::from))
}

/// One page of the catalogue and how many events match in all: a read on `pool`.
pub async fn list<DB>(
    pool: &Pool<DB>,
    query: &EventQuery,
) -> anyhow::Result<(Vec<EventListing>, u64)>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    EventListingRow: for<'r> FromRow<'r, DB::Row> + Send + Unpin,
    (i64,): for<'r> FromRow<'r, DB::Row>,
    String: Column<DB>,
    i64: Column<DB>,
    DbTime: Column<DB>,
{
    let mut page = with_counts::<DB>();
    push_filters(&mut page, query);
    // Ends in the primary key, so pages never overlap or skip an event.
    page.push(" ORDER BY starts_at, id LIMIT ")
        .push_bind(i64::from(query.limit))
        .push(" OFFSET ")
        .push_bind(i64::try_from(query.offset).unwrap_or(i64::MAX));
    let rows = page.build_query_as::<EventListingRow>().fetch_all(pool);
    let events = rows.await.context("listing events")?;
    let mut count = QueryBuilder::new("SELECT COUNT(*) FROM events");
    push_filters(&mut count, query);
    let total: i64 = count.build_query_scalar().fetch_one(pool).await?;
    Ok((
        events.into_iter().map(EventListing::from).collect(),
        u64::try_from(total).unwrap_or_default(),
    ))
}

/// Appends the `WHERE` clause shared by the page and the count.
fn push_filters<DB>(builder: &mut QueryBuilder<DB>, query: &EventQuery)
where
    DB: Database,
    String: Column<DB>,
    DbTime: Column<DB>,
{
    builder
        .push(" WHERE starts_at > ")
        .push_bind(DbTime(query.after));
    if let Some(from) = query.from {
        builder.push(" AND starts_at >= ").push_bind(DbTime(from));
    }
    if let Some(to) = query.to {
        builder.push(" AND starts_at <= ").push_bind(DbTime(to));
    }
    if let Some(text) = &query.text {
        // The keys are the lower-cased name and venue; the pattern is lower-cased too.
        let pattern = like_pattern(text);
        builder
            .push(" AND (name_key LIKE ")
            .push_bind(pattern.clone())
            .push(" ESCAPE '\\' OR venue_key LIKE ")
            .push_bind(pattern)
            .push(" ESCAPE '\\')");
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Sqlite;
    use time::OffsetDateTime;

    use super::*;

    #[test]
    fn counts_use_the_index_spelling_and_search_text_is_bound() {
        let query = EventQuery {
            after: OffsetDateTime::UNIX_EPOCH,
            text: Some("x' OR 1=1 --".into()),
            from: Some(OffsetDateTime::UNIX_EPOCH),
            to: None,
            limit: 20,
            offset: 0,
        };
        let mut sqlite = with_counts::<Sqlite>();
        push_filters(&mut sqlite, &query);
        let sqlite = sqlite.into_string();
        assert!(
            sqlite.contains("status = 'available' AND deleted = 0)"),
            "{sqlite}"
        );
        assert!(!sqlite.contains("OR 1=1"), "{sqlite}");
        let postgres = by_id::<Postgres>(boxoffice_common::new_id()).into_string();
        assert!(postgres.contains("AND NOT deleted)"), "{postgres}");
        assert!(postgres.ends_with("WHERE id = $1"), "{postgres}");
    }
}
