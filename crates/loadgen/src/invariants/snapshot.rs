//! The services' stores read into plain values, so that the rules in [`super::rules`] are
//! pure functions — testable on hand-made snapshots, without a server.
//!
//! Only the embedded mode's SQLite files are read, read-only, each once per check.

use std::path::Path;
use std::str::FromStr;

use boxoffice_platform::db::sqlite::time_text;
use serde::Deserialize;
use sqlx::Row;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};

/// The order statuses in which an order holds its tickets until it is paid or lapses.
pub const LIVE: [&str; 2] = ["created", "awaiting:payment"];
pub const COMPLETE: &str = "complete";
pub const CANCELLED: &str = "cancelled";

/// One ticket of an order, as the orders service recorded it when the order was placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderedTicket {
    pub id: String,
    /// Minor units.
    pub price: i64,
}

/// An order with every ticket of its basket (`ticket_id` first, then `more_tickets`).
#[derive(Debug, Clone)]
pub struct Order {
    pub id: String,
    pub status: String,
    pub expires_at: String,
    pub tickets: Vec<OrderedTicket>,
}

impl Order {
    pub fn is_live(&self) -> bool {
        LIVE.contains(&self.status.as_str())
    }

    /// Live or complete: the order holds its tickets.
    pub fn holds_tickets(&self) -> bool {
        self.is_live() || self.status == COMPLETE
    }

    pub fn total(&self) -> i64 {
        self.tickets.iter().map(|t| t.price).sum()
    }
}

/// A reserved or sold ticket of the tickets service.
#[derive(Debug, Clone)]
pub struct Ticket {
    pub id: String,
    pub status: String,
    pub order_id: String,
}

/// A succeeded payment of the payments service.
#[derive(Debug, Clone)]
pub struct Payment {
    pub id: String,
    pub order_id: String,
    /// Minor units.
    pub amount: i64,
}

/// Everything the rules look at, read at (nearly) one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub orders: Vec<Order>,
    /// `ticket_holds` of the orders service: (ticket, order).
    pub holds: Vec<(String, String)>,
    /// Tickets the tickets service has reserved or sold (not deleted).
    pub tickets: Vec<Ticket>,
    pub succeeded_payments: Vec<Payment>,
    pub refunded_payments: u64,
    pub unsent_events: u64,
    /// A live order whose hold ended before this moment should have been expired.
    pub stale_before: String,
    /// What could not be read (an unreadable basket); each is a violation.
    pub unreadable: Vec<String>,
}

/// A basket ticket after the first, as `orders.more_tickets` keeps it.
#[derive(Debug, Deserialize)]
struct MoreTicket {
    id: String,
    price: i64,
}

async fn open(dir: &Path, name: &str) -> anyhow::Result<SqlitePool> {
    let options = SqliteConnectOptions::from_str("sqlite://")?
        .filename(dir.join(format!("{name}.db")))
        .read_only(true);
    Ok(SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?)
}

async fn count(pool: &SqlitePool, sql: &'static str) -> anyhow::Result<u64> {
    let n: i64 = sqlx::query(sql).fetch_one(pool).await?.try_get(0)?;
    Ok(u64::try_from(n).unwrap_or_default())
}

impl Snapshot {
    /// Reads the stores under `data_dir`.
    pub async fn read(data_dir: &Path) -> anyhow::Result<Self> {
        let tickets = open(data_dir, "tickets").await?;
        let orders = open(data_dir, "orders").await?;
        let payments = open(data_dir, "payments").await?;
        let mut snapshot = Self {
            stale_before: time_text(time::OffsetDateTime::now_utc() - time::Duration::seconds(10)),
            ..Self::default()
        };
        for name in ["tickets", "orders", "payments", "expiration"] {
            let pool = open(data_dir, name).await?;
            snapshot.unsent_events +=
                count(&pool, "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL").await?;
        }
        snapshot.read_orders(&orders).await?;
        snapshot.read_tickets(&tickets).await?;
        snapshot.read_payments(&payments).await?;
        Ok(snapshot)
    }

    /// Orders and their holds, read in one transaction: a basket placed meanwhile shows in
    /// both or in neither.
    async fn read_orders(&mut self, pool: &SqlitePool) -> anyhow::Result<()> {
        let mut read = pool.begin().await?;
        let rows = sqlx::query(
            "SELECT id, status, expires_at, ticket_id, ticket_price, more_tickets FROM orders",
        )
        .fetch_all(&mut *read)
        .await?;
        for row in &rows {
            let id: String = row.try_get(0)?;
            let mut tickets = vec![OrderedTicket {
                id: row.try_get(3)?,
                price: row.try_get(4)?,
            }];
            if let Some(more) = row.try_get::<Option<String>, _>(5)? {
                match serde_json::from_str::<Vec<MoreTicket>>(&more) {
                    Ok(more) => tickets.extend(more.into_iter().map(|t| OrderedTicket {
                        id: t.id,
                        price: t.price,
                    })),
                    Err(err) => self.unreadable.push(format!(
                        "order {id} has an unreadable basket ({err}): {more}"
                    )),
                }
            }
            self.orders.push(Order {
                id,
                status: row.try_get(1)?,
                expires_at: row.try_get(2)?,
                tickets,
            });
        }
        self.holds = sqlx::query("SELECT ticket_id, order_id FROM ticket_holds")
            .fetch_all(&mut *read)
            .await?
            .iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect::<Result<_, sqlx::Error>>()?;
        read.commit().await?;
        Ok(())
    }

    async fn read_tickets(&mut self, pool: &SqlitePool) -> anyhow::Result<()> {
        let rows = sqlx::query(
            "SELECT id, status, order_id FROM tickets \
             WHERE status IN ('reserved', 'sold') AND deleted = 0",
        )
        .fetch_all(pool)
        .await?;
        for row in &rows {
            self.tickets.push(Ticket {
                id: row.try_get(0)?,
                status: row.try_get(1)?,
                order_id: row.try_get::<Option<String>, _>(2)?.unwrap_or_default(),
            });
        }
        Ok(())
    }

    async fn read_payments(&mut self, pool: &SqlitePool) -> anyhow::Result<()> {
        let rows =
            sqlx::query("SELECT id, order_id, amount FROM payments WHERE status = 'succeeded'")
                .fetch_all(pool)
                .await?;
        for row in &rows {
            self.succeeded_payments.push(Payment {
                id: row.try_get(0)?,
                order_id: row.try_get(1)?,
                amount: row.try_get(2)?,
            });
        }
        self.refunded_payments = count(
            pool,
            "SELECT COUNT(*) FROM payments WHERE status = 'refunded'",
        )
        .await?;
        Ok(())
    }
}
