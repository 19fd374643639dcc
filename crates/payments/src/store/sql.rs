//! Every statement of the payments store, written once for SQLite and PostgreSQL.
//!
//! `$1…$n` placeholders work on both drivers, and [`DbId`]/[`DbTime`] encode as each
//! database stores ids and times (TEXT on SQLite, UUID/TIMESTAMPTZ on PostgreSQL), so one
//! text, one row struct and one binding serve both. `ON CONFLICT` and `excluded` are
//! spelled the same by both databases. What differs — how a transaction starts and
//! whether a row is locked — stays in `sqlite.rs` and `postgres.rs`.

use std::marker::PhantomData;

use anyhow::Context;
use boxoffice_common::Money;
use boxoffice_platform::db::columns::{DbId, DbTime};
use sqlx::query::{Query, QueryAs};
use sqlx::{Database, Encode, FromRow, Type};
use time::OffsetDateTime;

use boxoffice_platform::db::is_unique_violation;

use super::{PaymentKey, ReplicaOutcome};
use crate::domain::{OrderReplica, OrderState, Payment, PaymentStatus};

pub const ORDER: &str = "SELECT id, user_id, amount, state, version FROM orders WHERE id = $1";

/// Newer versions replace older ones; an older or equal one writes nothing.
pub const SAVE_ORDER: &str = "INSERT INTO orders (id, user_id, amount, state, version) \
     VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (id) DO UPDATE SET state = excluded.state, version = excluded.version \
     WHERE excluded.version > orders.version";

pub const INSERT_PAYMENT: &str = "INSERT INTO payments \
     (id, order_id, user_id, amount, currency, status, provider_id, client_secret, failure, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

pub const PAYMENT_BY_ID: &str = "SELECT id, order_id, user_id, amount, currency, status, \
     provider_id, client_secret, failure, created_at FROM payments WHERE id = $1";

/// PostgreSQL only: [`PAYMENT_BY_ID`] locking the row until the transaction ends. SQLite
/// has no row locks; its `BEGIN IMMEDIATE` already holds the only write lock.
pub const PAYMENT_BY_ID_FOR_UPDATE: &str = "SELECT id, order_id, user_id, amount, currency, \
     status, provider_id, client_secret, failure, created_at FROM payments WHERE id = $1 \
     FOR UPDATE";

pub const PAYMENT_BY_PROVIDER: &str = "SELECT id, order_id, user_id, amount, currency, status, \
     provider_id, client_secret, failure, created_at FROM payments WHERE provider_id = $1";

/// The statuses are those of the unique index `payments_one_active_per_order`.
pub const ACTIVE_PAYMENT: &str = "SELECT id, order_id, user_id, amount, currency, status, \
     provider_id, client_secret, failure, created_at FROM payments WHERE order_id = $1 \
     AND status IN ('processing', 'requires_action', 'authorized', 'capturing', 'succeeded')";

/// PostgreSQL only: [`ACTIVE_PAYMENT`] locking the row, for an order's decision.
pub const ACTIVE_PAYMENT_FOR_UPDATE: &str = "SELECT id, order_id, user_id, amount, currency, \
     status, provider_id, client_secret, failure, created_at FROM payments WHERE order_id = $1 \
     AND status IN ('processing', 'requires_action', 'authorized', 'capturing', 'succeeded') \
     FOR UPDATE";

/// Steps left half-way, oldest first; served by the partial index `payments_unfinished`.
pub const UNFINISHED: &str = "SELECT id, order_id, user_id, amount, currency, status, \
     provider_id, client_secret, failure, created_at FROM payments \
     WHERE status IN ('authorized', 'capturing', 'voiding', 'refunding') \
     ORDER BY created_at, id LIMIT $1 OFFSET $2";

pub const UPDATE_PAYMENT: &str = "UPDATE payments \
     SET status = $1, provider_id = $2, client_secret = $3, failure = $4 WHERE id = $5";

/// Affects no row for an event id recorded before.
pub const RECORD_WEBHOOK: &str =
    "INSERT INTO webhook_events (id, received_at) VALUES ($1, $2) ON CONFLICT DO NOTHING";

#[derive(Debug, FromRow)]
pub struct OrderRow {
    id: DbId,
    user_id: DbId,
    amount: i64,
    state: String,
    version: i64,
}

impl TryFrom<OrderRow> for OrderReplica {
    type Error = anyhow::Error;

    fn try_from(row: OrderRow) -> anyhow::Result<Self> {
        Ok(Self {
            id: row.id.into(),
            user_id: row.user_id.into(),
            amount: Money::from_minor(row.amount),
            state: OrderState::parse(&row.state).context("stored state")?,
            version: row.version,
        })
    }
}

#[derive(Debug, FromRow)]
pub struct PaymentRow {
    id: DbId,
    order_id: DbId,
    user_id: DbId,
    amount: i64,
    currency: String,
    status: String,
    provider_id: Option<String>,
    client_secret: Option<String>,
    failure: Option<String>,
    created_at: DbTime,
}

impl TryFrom<PaymentRow> for Payment {
    type Error = anyhow::Error;

    fn try_from(row: PaymentRow) -> anyhow::Result<Self> {
        Ok(Self {
            id: row.id.into(),
            order_id: row.order_id.into(),
            user_id: row.user_id.into(),
            amount: Money::from_minor(row.amount),
            currency: row.currency,
            status: PaymentStatus::parse(&row.status).context("stored status")?,
            provider_id: row.provider_id,
            client_secret: row.client_secret,
            failure: row.failure,
            created_at: row.created_at.into(),
        })
    }
}

type Statement<DB> = Query<'static, DB, <DB as Database>::Arguments>;
type Select<DB, Row> = QueryAs<'static, DB, Row, <DB as Database>::Arguments>;

/// The statements above with their arguments bound, for database `DB`. The bounds say
/// that `DB` can store every column type used here.
#[derive(Debug)]
pub struct Bind<DB>(PhantomData<DB>);

impl<DB> Bind<DB>
where
    DB: Database,
    DbId: for<'t> Encode<'t, DB> + Type<DB>,
    DbTime: for<'t> Encode<'t, DB> + Type<DB>,
    i64: for<'t> Encode<'t, DB> + Type<DB>,
    String: for<'t> Encode<'t, DB> + Type<DB>,
    Option<String>: for<'t> Encode<'t, DB> + Type<DB>,
    OrderRow: for<'r> FromRow<'r, DB::Row>,
    PaymentRow: for<'r> FromRow<'r, DB::Row>,
{
    pub fn order(id: boxoffice_common::Id) -> Select<DB, OrderRow> {
        sqlx::query_as(ORDER).bind(DbId(id))
    }

    pub fn save_order(order: &OrderReplica) -> Statement<DB> {
        sqlx::query(SAVE_ORDER)
            .bind(DbId(order.id))
            .bind(DbId(order.user_id))
            .bind(order.amount.minor())
            .bind(order.state.as_str().to_owned())
            .bind(order.version)
    }

    pub fn insert_payment(payment: &Payment) -> Statement<DB> {
        sqlx::query(INSERT_PAYMENT)
            .bind(DbId(payment.id))
            .bind(DbId(payment.order_id))
            .bind(DbId(payment.user_id))
            .bind(payment.amount.minor())
            .bind(payment.currency.clone())
            .bind(payment.status.as_str().to_owned())
            .bind(payment.provider_id.clone())
            .bind(payment.client_secret.clone())
            .bind(payment.failure.clone())
            .bind(DbTime(payment.created_at))
    }

    /// The payment `key` names, with the statement for that key.
    pub fn payment(key: PaymentKey<'_>) -> Select<DB, PaymentRow> {
        match key {
            PaymentKey::Id(id) => sqlx::query_as(PAYMENT_BY_ID).bind(DbId(id)),
            PaymentKey::ProviderId(provider_id) => {
                sqlx::query_as(PAYMENT_BY_PROVIDER).bind(provider_id.to_owned())
            }
            PaymentKey::ActiveForOrder(order_id) => {
                sqlx::query_as(ACTIVE_PAYMENT).bind(DbId(order_id))
            }
        }
    }

    pub fn unfinished(offset: u32, limit: u32) -> Select<DB, PaymentRow> {
        sqlx::query_as(UNFINISHED)
            .bind(i64::from(limit))
            .bind(i64::from(offset))
    }

    pub fn update_payment(payment: &Payment) -> Statement<DB> {
        sqlx::query(UPDATE_PAYMENT)
            .bind(payment.status.as_str().to_owned())
            .bind(payment.provider_id.clone())
            .bind(payment.client_secret.clone())
            .bind(payment.failure.clone())
            .bind(DbId(payment.id))
    }

    pub fn record_webhook(event_id: &str, received_at: OffsetDateTime) -> Statement<DB> {
        sqlx::query(RECORD_WEBHOOK)
            .bind(event_id.to_owned())
            .bind(DbTime(received_at))
    }
}

/// Whether an `INSERT` went in; `false` when a unique index kept it out (for payments:
/// another one is already active for the order).
pub fn inserted(result: Result<impl Sized, sqlx::Error>) -> anyhow::Result<bool> {
    match result {
        Ok(_) => Ok(true),
        Err(err) if is_unique_violation(&err) => Ok(false),
        Err(err) => Err(anyhow::Error::new(err).context("inserting payment")),
    }
}

/// What saving a replica did, from the rows [`SAVE_ORDER`] wrote.
pub fn replica_outcome(rows_affected: u64) -> ReplicaOutcome {
    if rows_affected == 1 {
        ReplicaOutcome::Applied
    } else {
        ReplicaOutcome::Stale
    }
}

/// Reads an optional row into its entity.
pub fn entity<R, T>(row: Option<R>) -> anyhow::Result<Option<T>>
where
    T: TryFrom<R, Error = anyhow::Error>,
{
    row.map(T::try_from).transpose()
}
