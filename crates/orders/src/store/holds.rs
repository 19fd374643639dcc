//! The statements that hold, look up and free tickets, built for a basket's length.
//!
//! A basket holds 1 to `MAX_TICKETS_PER_ORDER` tickets, so these statements have as many
//! placeholders as it has tickets: the fixed text is `sql::HOLD_TICKETS` /
//! `sql::HELD_AMONG`, and every id is a bound parameter. Generic over the database, run
//! on whatever executor the store hands them (a pool, or a connection in a transaction).

use boxoffice_common::Id;
use boxoffice_platform::db::DbId;
use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, QueryBuilder, Type};

use super::sql;
use crate::domain::Order;

/// Holds every ticket of `order` for it. Fails with a unique violation, writing nothing,
/// when another order holds any of them.
///
/// The rows go in ticket-id order, whatever order the buyer asked in: two transactions
/// holding overlapping baskets then take the index entries in the same order, so on
/// PostgreSQL one waits for the other instead of both deadlocking.
pub(super) async fn hold<'c, E, DB>(conn: E, order: &Order) -> Result<(), sqlx::Error>
where
    E: Executor<'c, Database = DB>,
    DB: Database,
    DB::Arguments: IntoArguments<DB>,
    DbId: for<'t> Encode<'t, DB> + Type<DB>,
{
    let mut tickets: Vec<Id> = order.tickets().map(|ticket| ticket.id).collect();
    tickets.sort_unstable();
    let mut statement = QueryBuilder::<DB>::new(sql::HOLD_TICKETS);
    statement.push_values(tickets, |mut row, ticket| {
        row.push_bind(DbId(ticket)).push_bind(DbId(order.id));
    });
    statement.build().execute(conn).await?;
    Ok(())
}

/// Which of `tickets` a live or paid order holds, in no particular order.
pub(super) async fn held_among<'c, E, DB>(conn: E, tickets: &[Id]) -> anyhow::Result<Vec<Id>>
where
    E: Executor<'c, Database = DB>,
    DB: Database,
    DB::Arguments: IntoArguments<DB>,
    DbId: for<'t> Encode<'t, DB> + Type<DB>,
    (DbId,): for<'r> FromRow<'r, DB::Row>,
{
    if tickets.is_empty() {
        return Ok(vec![]);
    }
    let mut query = QueryBuilder::<DB>::new(sql::HELD_AMONG);
    let mut list = query.separated(", ");
    for ticket in tickets {
        list.push_bind(DbId(*ticket));
    }
    list.push_unseparated(")");
    let rows: Vec<(DbId,)> = query.build_query_as().fetch_all(conn).await?;
    Ok(rows.into_iter().map(|(id,)| id.into()).collect())
}
