//! The rules a flash sale must never break, checked on the services' own stores.
//!
//! * no ticket has more than one live or completed order;
//! * every order is final, or pending with a hold that has not run out;
//! * tickets, orders and payments agree: a sold ticket ↔ a completed order ↔ one succeeded
//!   payment, a reserved ticket ↔ a live order;
//! * completed orders = sold tickets;
//! * no order was charged twice.
//!
//! The services converge through events, so [`check_converged`] waits (bounded) until every
//! outbox is drained and the checks pass, then reports what is still wrong.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use boxoffice_platform::db::sqlite::time_text;
use serde::Serialize;
use sqlx::Row;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};

/// What the checks found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Verdict {
    pub sold_tickets: u64,
    pub completed_orders: u64,
    pub succeeded_payments: u64,
    pub refunded_payments: u64,
    pub unsent_events: u64,
    pub violations: Vec<String>,
}

impl Verdict {
    pub fn holds(&self) -> bool {
        self.violations.is_empty()
    }
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

async fn pairs(pool: &SqlitePool, sql: &'static str) -> anyhow::Result<Vec<(String, String)>> {
    let rows = sqlx::query(sql).fetch_all(pool).await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get::<String, _>(0)?,
                row.try_get::<Option<String>, _>(1)?.unwrap_or_default(),
            ))
        })
        .collect()
}

async fn count(pool: &SqlitePool, sql: &'static str) -> anyhow::Result<u64> {
    let n: i64 = sqlx::query(sql).fetch_one(pool).await?.try_get(0)?;
    Ok(u64::try_from(n).unwrap_or_default())
}

/// Runs every check once on the stores under `data_dir`.
pub async fn check(data_dir: &Path) -> anyhow::Result<Verdict> {
    let tickets = open(data_dir, "tickets").await?;
    let orders = open(data_dir, "orders").await?;
    let payments = open(data_dir, "payments").await?;
    let mut verdict = Verdict::default();
    let mut unsent = 0;
    for name in ["auth", "tickets", "orders", "payments", "expiration"] {
        if name == "auth" {
            continue;
        }
        let pool = open(data_dir, name).await?;
        unsent += count(&pool, "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL").await?;
    }
    verdict.unsent_events = unsent;
    let v = &mut verdict.violations;

    for (ticket, holders) in pairs(
        &orders,
        "SELECT ticket_id, CAST(COUNT(*) AS TEXT) FROM orders \
         WHERE status IN ('created', 'awaiting:payment', 'complete') GROUP BY ticket_id HAVING COUNT(*) > 1",
    )
    .await?
    {
        v.push(format!("ticket {ticket} has {holders} live or completed orders"));
    }
    let stale_before = time_text(time::OffsetDateTime::now_utc() - time::Duration::seconds(10));
    let live = sqlx::query("SELECT id, ticket_id, expires_at FROM orders WHERE status IN ('created', 'awaiting:payment')")
        .fetch_all(&orders)
        .await?;
    let mut live_by_ticket = BTreeMap::new();
    for row in &live {
        let (id, ticket, expires): (String, String, String) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        if expires < stale_before {
            v.push(format!(
                "order {id} is still live although its hold ended at {expires}"
            ));
        }
        live_by_ticket.insert(ticket, id);
    }

    let sold: BTreeMap<String, String> = pairs(
        &tickets,
        "SELECT id, order_id FROM tickets WHERE status = 'sold' AND deleted = 0",
    )
    .await?
    .into_iter()
    .collect();
    let completed: BTreeMap<String, String> = pairs(
        &orders,
        "SELECT ticket_id, id FROM orders WHERE status = 'complete'",
    )
    .await?
    .into_iter()
    .collect();
    verdict.sold_tickets = sold.len() as u64;
    verdict.completed_orders = completed.len() as u64;
    if sold.len() != completed.len() {
        v.push(format!(
            "{} tickets sold but {} orders completed",
            sold.len(),
            completed.len()
        ));
    }
    for (ticket, order) in &sold {
        if completed.get(ticket) != Some(order) {
            v.push(format!(
                "ticket {ticket} is sold to order {order}, which is not its completed order"
            ));
        }
    }
    for (ticket, order) in &completed {
        if sold.get(ticket) != Some(order) {
            v.push(format!(
                "order {order} completed but ticket {ticket} is not sold to it"
            ));
        }
    }
    for (ticket, order) in pairs(
        &tickets,
        "SELECT id, order_id FROM tickets WHERE status = 'reserved' AND deleted = 0",
    )
    .await?
    {
        if live_by_ticket.get(&ticket) != Some(&order) {
            v.push(format!(
                "ticket {ticket} is reserved for order {order}, which is not live"
            ));
        }
    }

    let charged = pairs(
        &payments,
        "SELECT order_id, id FROM payments WHERE status = 'succeeded'",
    )
    .await?;
    verdict.succeeded_payments = charged.len() as u64;
    verdict.refunded_payments = count(
        &payments,
        "SELECT COUNT(*) FROM payments WHERE status = 'refunded'",
    )
    .await?;
    let mut charges_per_order: BTreeMap<&str, u32> = BTreeMap::new();
    for (order, _) in &charged {
        *charges_per_order.entry(order).or_default() += 1;
    }
    for (order, times) in &charges_per_order {
        if *times > 1 {
            v.push(format!("order {order} was charged {times} times"));
        }
    }
    let paid: BTreeSet<&str> = charges_per_order.keys().copied().collect();
    let complete_orders: BTreeSet<&str> = completed.values().map(String::as_str).collect();
    for order in paid.difference(&complete_orders) {
        v.push(format!(
            "order {order} was charged but is not complete (and not refunded)"
        ));
    }
    for order in complete_orders.difference(&paid) {
        v.push(format!(
            "order {order} is complete without a succeeded payment"
        ));
    }
    Ok(verdict)
}

/// Waits until the outboxes are drained and the checks pass, for at most `patience`;
/// returns the last verdict either way.
pub async fn check_converged(data_dir: &Path, patience: Duration) -> anyhow::Result<Verdict> {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        let verdict = check(data_dir).await?;
        if (verdict.holds() && verdict.unsent_events == 0)
            || tokio::time::Instant::now() >= deadline
        {
            return Ok(verdict);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
