//! The distributed mode's stores: each service's own PostgreSQL database, named
//! `{prefix}_{service}` on one server (as `scripts/distributed` creates them), and the
//! queue's keys in Redis under `{prefix}:queue`.

use sqlx::postgres::{PgPool, PgPoolOptions};

use super::{Rows, Snapshot, WITH_OUTBOX};

const UNSENT: &str = "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL";
const DEAD_LETTERS: &str = "SELECT COUNT(*) FROM dead_letter";
/// `expires_at` in the embedded stores' text form (PostgreSQL keeps microseconds).
const ORDERS: &str = "SELECT id::text, status, \
     to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') || '000Z', \
     ticket_id::text, ticket_price, more_tickets FROM orders";
const HOLDS: &str = "SELECT ticket_id::text, order_id::text FROM ticket_holds";
const HELD_TICKETS: &str = "SELECT id::text, status, order_id::text FROM tickets \
     WHERE status IN ('reserved', 'sold') AND NOT deleted";
const SUCCEEDED_PAYMENTS: &str =
    "SELECT id::text, order_id::text, amount FROM payments WHERE status = 'succeeded'";
const REFUNDED_PAYMENTS: &str = "SELECT COUNT(*) FROM payments WHERE status = 'refunded'";

/// The databases of one distributed deployment.
#[derive(Debug, Clone)]
pub struct Databases {
    /// The server, without a database: `postgres://postgres@127.0.0.1:5432`.
    pub server: String,
    /// The databases' common prefix: `boxoffice` for `boxoffice_orders`, ….
    pub prefix: String,
    /// The Redis server of the queue service, whose unsent events and dead letters count
    /// too; `None` leaves them out.
    pub redis: Option<String>,
}

impl Databases {
    async fn open(&self, service: &str) -> anyhow::Result<PgPool> {
        let url = format!(
            "{}/{}_{service}",
            self.server.trim_end_matches('/'),
            self.prefix
        );
        Ok(PgPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await?)
    }
}

/// Reads the stores of `databases`.
pub async fn read(databases: &Databases) -> anyhow::Result<Snapshot> {
    let now = time::OffsetDateTime::now_utc();
    let mut rows = Rows::default();
    for name in WITH_OUTBOX {
        let pool = databases.open(name).await?;
        let (unsent,): (i64,) = sqlx::query_as(UNSENT).fetch_one(&pool).await?;
        rows.unsent_events += unsent;
        let (parked,): (i64,) = sqlx::query_as(DEAD_LETTERS).fetch_one(&pool).await?;
        rows.dead_letters += parked;
        pool.close().await;
    }
    if let Some(url) = &databases.redis {
        let (unsent, parked) = queue_events(url, &format!("{}:queue", databases.prefix)).await?;
        rows.unsent_events += unsent;
        rows.dead_letters += parked;
    }
    // Orders and their holds in one snapshot: a basket placed meanwhile shows in both or
    // in neither.
    let orders = databases.open("orders").await?;
    let mut read = orders.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .execute(&mut *read)
        .await?;
    rows.orders = sqlx::query_as(ORDERS).fetch_all(&mut *read).await?;
    rows.holds = sqlx::query_as(HOLDS).fetch_all(&mut *read).await?;
    read.commit().await?;
    orders.close().await;
    let tickets = databases.open("tickets").await?;
    rows.tickets = sqlx::query_as(HELD_TICKETS).fetch_all(&tickets).await?;
    tickets.close().await;
    let payments = databases.open("payments").await?;
    rows.succeeded_payments = sqlx::query_as(SUCCEEDED_PAYMENTS)
        .fetch_all(&payments)
        .await?;
    (rows.refunded_payments,) = sqlx::query_as(REFUNDED_PAYMENTS)
        .fetch_one(&payments)
        .await?;
    payments.close().await;
    Ok(Snapshot::from_rows(rows, now))
}

/// The queue service's unsent events (its outbox, a sorted set) and dead letters (a hash)
/// under `prefix` in Redis.
async fn queue_events(url: &str, prefix: &str) -> anyhow::Result<(i64, i64)> {
    let client = redis::Client::open(url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let unsent: i64 = redis::cmd("ZCARD")
        .arg(format!("{prefix}:ob"))
        .query_async(&mut conn)
        .await?;
    let parked: i64 = redis::cmd("HLEN")
        .arg(format!("{prefix}:dead"))
        .query_async(&mut conn)
        .await?;
    Ok((unsent, parked))
}
