//! The store's reads, written once for both databases.
//!
//! Each runs on whatever executor the store hands it — SQLite's reader pool, the
//! PostgreSQL pool, or a connection inside a write transaction — since a read's text,
//! binding and row are the same everywhere. Only which statement a change loads with
//! (`FOR UPDATE` or not) is the store's choice.

use boxoffice_common::Id;
use boxoffice_platform::db::DbId;
use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, Type};

use super::rows::{OrderRow, ReplicaRow, RoomGateRow, TicketLineRow};
use super::sql;
use crate::domain::{LineGate, Order, RoomGate, TicketReplica};

/// One order by `statement` (`sql::ORDER_BY_ID` or a locking form of it).
pub(super) async fn order<'c, E, DB>(
    conn: E,
    statement: &'static str,
    id: Id,
) -> anyhow::Result<Option<Order>>
where
    E: Executor<'c, Database = DB>,
    DB: Database,
    DB::Arguments: IntoArguments<DB>,
    DbId: Encode<'static, DB> + Type<DB>,
    OrderRow: for<'r> FromRow<'r, DB::Row>,
{
    sqlx::query_as::<DB, OrderRow>(statement)
        .bind(DbId(id))
        .fetch_optional(conn)
        .await?
        .map(Order::try_from)
        .transpose()
}

/// A buyer's orders, oldest first.
pub(super) async fn orders_of<'c, E, DB>(conn: E, user: Id) -> anyhow::Result<Vec<Order>>
where
    E: Executor<'c, Database = DB>,
    DB: Database,
    DB::Arguments: IntoArguments<DB>,
    DbId: Encode<'static, DB> + Type<DB>,
    OrderRow: for<'r> FromRow<'r, DB::Row>,
{
    sqlx::query_as::<DB, OrderRow>(sql::ORDERS_OF_USER)
        .bind(DbId(user))
        .fetch_all(conn)
        .await?
        .into_iter()
        .map(Order::try_from)
        .collect()
}

/// One ticket of the replica.
pub(super) async fn replica<'c, E, DB>(conn: E, id: Id) -> anyhow::Result<Option<TicketReplica>>
where
    E: Executor<'c, Database = DB>,
    DB: Database,
    DB::Arguments: IntoArguments<DB>,
    DbId: Encode<'static, DB> + Type<DB>,
    ReplicaRow: for<'r> FromRow<'r, DB::Row>,
{
    let row = sqlx::query_as::<DB, ReplicaRow>(sql::TICKET_BY_ID)
        .bind(DbId(id))
        .fetch_optional(conn)
        .await?;
    Ok(row.map(TicketReplica::from))
}

/// A replica ticket with its line, if the queue service ever reported one.
pub(super) async fn ticket_with_line<'c, E, DB>(
    conn: E,
    id: Id,
) -> anyhow::Result<Option<(TicketReplica, Option<LineGate>)>>
where
    E: Executor<'c, Database = DB>,
    DB: Database,
    DB::Arguments: IntoArguments<DB>,
    DbId: Encode<'static, DB> + Type<DB>,
    TicketLineRow: for<'r> FromRow<'r, DB::Row>,
{
    let row = sqlx::query_as::<DB, TicketLineRow>(sql::TICKET_WITH_LINE)
        .bind(DbId(id))
        .fetch_optional(conn)
        .await?;
    Ok(row.map(Into::into))
}

/// An event's room gate (`sql::ROOM_GATE`).
pub(super) async fn room_gate<'c, E, DB>(conn: E, event: Id) -> anyhow::Result<Option<RoomGate>>
where
    E: Executor<'c, Database = DB>,
    DB: Database,
    DB::Arguments: IntoArguments<DB>,
    DbId: Encode<'static, DB> + Type<DB>,
    RoomGateRow: for<'r> FromRow<'r, DB::Row>,
{
    let row = sqlx::query_as::<DB, RoomGateRow>(sql::ROOM_GATE)
        .bind(DbId(event))
        .fetch_optional(conn)
        .await?;
    Ok(row.map(Into::into))
}

/// How many tickets of `event` `buyer` holds in live or paid orders
/// (`sql::TICKETS_OF_BUYER_FOR_EVENT`), on `conn`: the inserting transaction, after the
/// new order's holds are written, so they count too.
pub(super) async fn tickets_of_buyer_for_event<'c, E, DB>(
    conn: E,
    buyer: Id,
    event: Id,
) -> anyhow::Result<i64>
where
    E: Executor<'c, Database = DB>,
    DB: Database,
    DB::Arguments: IntoArguments<DB>,
    DbId: Encode<'static, DB> + Type<DB>,
    (i64,): for<'r> FromRow<'r, DB::Row>,
{
    let (held,): (i64,) = sqlx::query_as(sql::TICKETS_OF_BUYER_FOR_EVENT)
        .bind(DbId(buyer))
        .bind(DbId(event))
        .fetch_one(conn)
        .await?;
    Ok(held)
}
