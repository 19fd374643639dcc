//! The embedded mode's stores: the SQLite files under `DATA_DIR`, opened read-only.

use std::path::Path;
use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};

use super::{Rows, Snapshot, WITH_OUTBOX};

const UNSENT: &str = "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL";
const DEAD_LETTERS: &str = "SELECT COUNT(*) FROM dead_letter";
const ORDERS: &str =
    "SELECT id, status, expires_at, ticket_id, ticket_price, more_tickets FROM orders";
const HOLDS: &str = "SELECT ticket_id, order_id FROM ticket_holds";
const HELD_TICKETS: &str = "SELECT id, status, order_id FROM tickets \
     WHERE status IN ('reserved', 'sold') AND deleted = 0";
const SUCCEEDED_PAYMENTS: &str =
    "SELECT id, order_id, amount FROM payments WHERE status = 'succeeded'";
const REFUNDED_PAYMENTS: &str = "SELECT COUNT(*) FROM payments WHERE status = 'refunded'";

async fn open(dir: &Path, name: &str) -> anyhow::Result<SqlitePool> {
    let options = SqliteConnectOptions::from_str("sqlite://")?
        .filename(dir.join(format!("{name}.db")))
        .read_only(true);
    Ok(SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?)
}

/// Reads the stores under `data_dir`.
pub async fn read(data_dir: &Path) -> anyhow::Result<Snapshot> {
    let now = time::OffsetDateTime::now_utc();
    let mut rows = Rows::default();
    for name in WITH_OUTBOX.into_iter().chain(["queue"]) {
        let pool = open(data_dir, name).await?;
        let (unsent,): (i64,) = sqlx::query_as(UNSENT).fetch_one(&pool).await?;
        rows.unsent_events += unsent;
        let (parked,): (i64,) = sqlx::query_as(DEAD_LETTERS).fetch_one(&pool).await?;
        rows.dead_letters += parked;
    }
    // Orders and their holds in one transaction: a basket placed meanwhile shows in both
    // or in neither.
    let orders = open(data_dir, "orders").await?;
    let mut read = orders.begin().await?;
    rows.orders = sqlx::query_as(ORDERS).fetch_all(&mut *read).await?;
    rows.holds = sqlx::query_as(HOLDS).fetch_all(&mut *read).await?;
    read.commit().await?;
    let tickets = open(data_dir, "tickets").await?;
    rows.tickets = sqlx::query_as(HELD_TICKETS).fetch_all(&tickets).await?;
    let payments = open(data_dir, "payments").await?;
    rows.succeeded_payments = sqlx::query_as(SUCCEEDED_PAYMENTS)
        .fetch_all(&payments)
        .await?;
    (rows.refunded_payments,) = sqlx::query_as(REFUNDED_PAYMENTS)
        .fetch_one(&payments)
        .await?;
    Ok(Snapshot::from_rows(rows, now))
}
