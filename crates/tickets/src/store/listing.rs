//! The ticket listing: the one ticket statement assembled from parts. Only fixed
//! fragments from this file and `sql.rs` go into its text; every value a client chose
//! (search text, prices, seller, event, status) is a bound parameter.

use anyhow::Context;
use boxoffice_platform::db::columns::DbId;
use sqlx::{Executor, FromRow, IntoArguments, Pool, QueryBuilder};

use super::sql::{COLUMNS, Column, Dialect, TicketRow, tickets};
use super::{ListQuery, Sort, StatusFilter};
use crate::domain::Ticket;

/// One page of tickets matching `query`, and how many match in all. A read on `pool`,
/// the same on both databases: no transaction, no lock.
pub async fn list<DB>(pool: &Pool<DB>, query: &ListQuery) -> anyhow::Result<(Vec<Ticket>, u64)>
where
    DB: Dialect,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    TicketRow: for<'r> FromRow<'r, DB::Row> + Send + Unpin,
    (i64,): for<'r> FromRow<'r, DB::Row>,
    String: Column<DB>,
    i64: Column<DB>,
    DbId: Column<DB>,
{
    let mut page = list_page::<DB>(query);
    let rows = page.build_query_as::<TicketRow>().fetch_all(pool);
    let tickets = tickets(rows.await.context("listing tickets")?)?;
    let mut count = list_count::<DB>(query);
    let total: i64 = count.build_query_scalar().fetch_one(pool).await?;
    Ok((tickets, u64::try_from(total).unwrap_or_default()))
}

/// One page of the listing, in the order `query` asks for.
fn list_page<DB>(query: &ListQuery) -> QueryBuilder<DB>
where
    DB: Dialect,
    String: Column<DB>,
    i64: Column<DB>,
    DbId: Column<DB>,
{
    let mut page = QueryBuilder::new("SELECT ");
    page.push(COLUMNS).push(" FROM tickets");
    push_filters(&mut page, query);
    // Every order ends in a unique key, so pages never overlap or skip a row.
    page.push(match query.sort {
        Sort::Oldest => " ORDER BY created_at, id",
        Sort::Newest => " ORDER BY created_at DESC, id DESC",
        Sort::PriceAscending => " ORDER BY price, created_at, id",
        Sort::PriceDescending => " ORDER BY price DESC, created_at, id",
    });
    page.push(" LIMIT ").push_bind(i64::from(query.limit));
    page.push(" OFFSET ")
        .push_bind(i64::try_from(query.offset).unwrap_or(i64::MAX));
    page
}

/// How many tickets match `query`'s filters, whatever the page.
fn list_count<DB>(query: &ListQuery) -> QueryBuilder<DB>
where
    DB: Dialect,
    String: Column<DB>,
    i64: Column<DB>,
    DbId: Column<DB>,
{
    let mut count = QueryBuilder::new("SELECT COUNT(*) FROM tickets");
    push_filters(&mut count, query);
    count
}

/// Appends the `WHERE` clause shared by the page and the count.
fn push_filters<DB>(builder: &mut QueryBuilder<DB>, query: &ListQuery)
where
    DB: Dialect,
    String: Column<DB>,
    i64: Column<DB>,
    DbId: Column<DB>,
{
    builder.push(" WHERE ").push(DB::LIVE);
    match query.status {
        // Literal, not bound: it is fixed text, and the planner can match it to the index.
        StatusFilter::NotSold => {
            builder.push(" AND status IN ('available', 'reserved')");
        }
        StatusFilter::Only(status) => {
            builder
                .push(" AND status = ")
                .push_bind(status.as_str().to_owned());
        }
        StatusFilter::All => {}
    }
    if let Some(text) = &query.text {
        // `lower(..) LIKE` rather than PostgreSQL's `ILIKE`: SQLite has no `ILIKE`, and
        // both fold the bound pattern the same way because it is lower-cased here.
        builder
            .push(" AND lower(title) LIKE ")
            .push_bind(like_pattern(text))
            .push(" ESCAPE '\\'");
    }
    if let Some(min) = query.min_price {
        builder.push(" AND price >= ").push_bind(min.minor());
    }
    if let Some(max) = query.max_price {
        builder.push(" AND price <= ").push_bind(max.minor());
    }
    if let Some(seller) = query.seller {
        builder.push(" AND user_id = ").push_bind(DbId(seller));
    }
    if let Some(event) = query.event {
        builder.push(" AND event_id = ").push_bind(DbId(event));
    }
}

/// Escapes `%`, `_` and `\` so user text matches literally inside `LIKE '%…%'`; lower-cased,
/// for columns compared in lower case.
pub fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use boxoffice_common::Money;
    use sqlx::{Postgres, Sqlite};

    use super::*;
    use crate::domain::TicketStatus;

    #[test]
    fn search_text_is_bound_escaped_and_never_part_of_the_sql() {
        let query = ListQuery {
            text: Some("50%_off\\' OR 1=1 --".into()),
            seller: Some(boxoffice_common::new_id()),
            event: Some(boxoffice_common::new_id()),
            min_price: Some(Money::from_minor(100)),
            status: StatusFilter::Only(TicketStatus::Sold),
            limit: 10,
            ..ListQuery::default()
        };
        let sqlite = list_page::<Sqlite>(&query).into_string();
        let postgres = list_count::<Postgres>(&query).into_string();
        for sql in [&sqlite, &postgres] {
            assert!(!sql.contains("OR 1=1") && !sql.contains("sold"), "{sql}");
        }
        assert!(
            sqlite.contains("WHERE deleted = 0 AND status = ?"),
            "{sqlite}"
        );
        assert!(
            postgres.contains("WHERE NOT deleted AND status = $1"),
            "{postgres}"
        );
        assert_eq!(like_pattern("50%_Off\\"), "%50\\%\\_off\\\\%");
    }
}
