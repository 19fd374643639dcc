//! Rows as both databases return them, and domain values bound to statements.
//!
//! One struct per result shape, decoded by `sqlx::FromRow` on either driver: ids and
//! times are `DbId`/`DbTime` (TEXT on SQLite, UUID/TIMESTAMPTZ on PostgreSQL), money is
//! integer minor units. The `bind_*` functions fill a statement's `$n` placeholders in
//! the order its text in `sql` names them, generically over the database, so neither
//! store repeats a column list.

use anyhow::Context;
use boxoffice_common::{Id, Money};
use boxoffice_platform::db::{DbId, DbTime};
use serde::{Deserialize, Serialize};
use sqlx::query::Query;
use sqlx::{Database, Encode, Type};

use crate::domain::{
    CancelReason, LineGate, Order, OrderStatus, OrderedTicket, RoomGate, TicketReplica,
};

/// A statement with its placeholders being filled.
pub(super) type Statement<'q, DB> = Query<'q, DB, <DB as Database>::Arguments>;

/// `orders` as `sql::ORDER_BY_ID` and friends select it.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct OrderRow {
    id: DbId,
    user_id: DbId,
    ticket_id: DbId,
    ticket_title: String,
    ticket_price: i64,
    ticket_version: i64,
    /// The basket's other tickets as JSON ([`StoredTicket`]s); `NULL` for one ticket.
    more_tickets: Option<String>,
    status: String,
    cancel_reason: Option<String>,
    expires_at: DbTime,
    /// Absent on rows written before holds and expiries were told apart.
    hold_until: Option<DbTime>,
    version: i64,
    created_at: DbTime,
}

impl TryFrom<OrderRow> for Order {
    type Error = anyhow::Error;

    fn try_from(row: OrderRow) -> anyhow::Result<Self> {
        Ok(Self {
            id: row.id.into(),
            user_id: row.user_id.into(),
            ticket: OrderedTicket {
                id: row.ticket_id.into(),
                title: row.ticket_title,
                price: Money::from_minor(row.ticket_price),
                version: row.ticket_version,
            },
            more_tickets: match row.more_tickets.as_deref() {
                None => vec![],
                Some(json) => serde_json::from_str::<Vec<StoredTicket>>(json)
                    .context("stored basket")?
                    .into_iter()
                    .map(OrderedTicket::from)
                    .collect(),
            },
            status: OrderStatus::parse(&row.status).context("stored status")?,
            expires_at: row.expires_at.into(),
            hold_until: row.hold_until.unwrap_or(row.expires_at).into(),
            version: row.version,
            created_at: row.created_at.into(),
            cancel_reason: row.cancel_reason.as_deref().and_then(CancelReason::parse),
        })
    }
}

/// A basket ticket after the first, as `orders.more_tickets` keeps it (money in minor
/// units, like every other column).
#[derive(Debug, Serialize, Deserialize)]
struct StoredTicket {
    id: Id,
    title: String,
    price: i64,
    version: i64,
}

impl From<StoredTicket> for OrderedTicket {
    fn from(stored: StoredTicket) -> Self {
        Self {
            id: stored.id,
            title: stored.title,
            price: Money::from_minor(stored.price),
            version: stored.version,
        }
    }
}

/// `orders.more_tickets` for `order`: `NULL` for a one-ticket order.
fn more_tickets_json(order: &Order) -> Option<String> {
    if order.more_tickets.is_empty() {
        return None;
    }
    let stored: Vec<StoredTicket> = order
        .more_tickets
        .iter()
        .map(|ticket| StoredTicket {
            id: ticket.id,
            title: ticket.title.clone(),
            price: ticket.price.minor(),
            version: ticket.version,
        })
        .collect();
    // A list of plain structs always serialises.
    serde_json::to_string(&stored).ok()
}

/// `tickets` (the replica) as `sql::TICKET_BY_ID` selects it.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct ReplicaRow {
    id: DbId,
    title: String,
    price: i64,
    user_id: DbId,
    version: i64,
    deleted: bool,
    event_id: Option<DbId>,
}

impl From<ReplicaRow> for TicketReplica {
    fn from(row: ReplicaRow) -> Self {
        Self {
            id: row.id.into(),
            title: row.title,
            price: Money::from_minor(row.price),
            user_id: row.user_id.into(),
            version: row.version,
            deleted: row.deleted,
            event_id: row.event_id.map(Into::into),
        }
    }
}

/// A replica ticket joined with its line (`sql::TICKET_WITH_LINE`); the line columns are
/// all `NULL` when the queue service never reported one.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct TicketLineRow {
    #[sqlx(flatten)]
    ticket: ReplicaRow,
    line_version: Option<i64>,
    waiting: Option<i64>,
    turn_user_id: Option<DbId>,
    turn_expires_at: Option<DbTime>,
}

impl From<TicketLineRow> for (TicketReplica, Option<LineGate>) {
    fn from(row: TicketLineRow) -> Self {
        let ticket = TicketReplica::from(row.ticket);
        let gate = row.line_version.map(|version| LineGate {
            ticket_id: ticket.id,
            version,
            waiting: row.waiting.unwrap_or(0) as u64,
            turn: row
                .turn_user_id
                .zip(row.turn_expires_at)
                .map(|(user, until)| (user.into(), until.into())),
        });
        (ticket, gate)
    }
}

/// Fills `sql::INSERT_ORDER`.
pub(super) fn bind_new_order<'q, DB>(
    statement: Statement<'q, DB>,
    order: &Order,
) -> Statement<'q, DB>
where
    DB: Database,
    DbId: Encode<'static, DB> + Type<DB>,
    DbTime: Encode<'static, DB> + Type<DB>,
    String: Encode<'static, DB> + Type<DB>,
    Option<String>: Encode<'static, DB>,
    &'static str: Encode<'static, DB> + Type<DB>,
    Option<&'static str>: Encode<'static, DB>,
    i64: Encode<'static, DB> + Type<DB>,
{
    statement
        .bind(DbId(order.id))
        .bind(DbId(order.user_id))
        .bind(DbId(order.ticket.id))
        .bind(order.ticket.title.clone())
        .bind(order.ticket.price.minor())
        .bind(order.ticket.version)
        .bind(more_tickets_json(order))
        .bind(order.status.as_str())
        .bind(order.cancel_reason.map(CancelReason::as_str))
        .bind(DbTime(order.expires_at))
        .bind(DbTime(order.hold_until))
        .bind(order.version)
        .bind(DbTime(order.created_at))
}

/// Fills `sql::UPDATE_ORDER`.
pub(super) fn bind_order_update<'q, DB>(
    statement: Statement<'q, DB>,
    order: &Order,
) -> Statement<'q, DB>
where
    DB: Database,
    DbId: Encode<'static, DB> + Type<DB>,
    DbTime: Encode<'static, DB> + Type<DB>,
    &'static str: Encode<'static, DB> + Type<DB>,
    Option<&'static str>: Encode<'static, DB>,
    i64: Encode<'static, DB> + Type<DB>,
{
    statement
        .bind(order.status.as_str())
        .bind(order.cancel_reason.map(CancelReason::as_str))
        .bind(DbTime(order.expires_at))
        .bind(order.version)
        .bind(DbId(order.id))
}

/// Fills `sql::UPSERT_TICKET`.
pub(super) fn bind_replica<'q, DB>(
    statement: Statement<'q, DB>,
    replica: &TicketReplica,
) -> Statement<'q, DB>
where
    DB: Database,
    DbId: Encode<'static, DB> + Type<DB>,
    String: Encode<'static, DB> + Type<DB>,
    i64: Encode<'static, DB> + Type<DB>,
    bool: Encode<'static, DB> + Type<DB>,
    Option<DbId>: Encode<'static, DB>,
{
    statement
        .bind(DbId(replica.id))
        .bind(replica.title.clone())
        .bind(replica.price.minor())
        .bind(DbId(replica.user_id))
        .bind(replica.version)
        .bind(replica.deleted)
        .bind(replica.event_id.map(DbId))
}

/// `event_rooms` as `sql::ROOM_GATE` selects it.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct RoomGateRow {
    event_id: DbId,
    version: i64,
    open: bool,
    per_account_limit: i64,
}

impl From<RoomGateRow> for RoomGate {
    fn from(row: RoomGateRow) -> Self {
        Self {
            event_id: row.event_id.into(),
            version: row.version,
            open: row.open,
            per_account_limit: u32::try_from(row.per_account_limit).unwrap_or(u32::MAX),
        }
    }
}

/// Fills `sql::UPSERT_ROOM_GATE`.
pub(super) fn bind_room_gate<'q, DB>(
    statement: Statement<'q, DB>,
    gate: &RoomGate,
) -> Statement<'q, DB>
where
    DB: Database,
    DbId: Encode<'static, DB> + Type<DB>,
    i64: Encode<'static, DB> + Type<DB>,
    bool: Encode<'static, DB> + Type<DB>,
{
    statement
        .bind(DbId(gate.event_id))
        .bind(gate.version)
        .bind(gate.open)
        .bind(i64::from(gate.per_account_limit))
}

/// Fills `sql::UPSERT_LINE`.
pub(super) fn bind_line<'q, DB>(statement: Statement<'q, DB>, gate: &LineGate) -> Statement<'q, DB>
where
    DB: Database,
    DbId: Encode<'static, DB> + Type<DB>,
    DbTime: Encode<'static, DB> + Type<DB>,
    Option<DbId>: Encode<'static, DB>,
    Option<DbTime>: Encode<'static, DB>,
    i64: Encode<'static, DB> + Type<DB>,
{
    statement
        .bind(DbId(gate.ticket_id))
        .bind(gate.version)
        .bind(gate.waiting as i64)
        .bind(gate.turn.map(|(user, _)| DbId(user)))
        .bind(gate.turn.map(|(_, until)| DbTime(until)))
}
