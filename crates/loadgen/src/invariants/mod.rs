//! The rules a sale must never break, checked on the services' own stores.
//!
//! Orders may hold several tickets (baskets), and every rule covers every ticket of every
//! order:
//! * no ticket has more than one live or completed order;
//! * every order is final, or pending with a hold that has not run out;
//! * the orders service's `ticket_holds` agree with its orders: a live or completed order
//!   holds all the tickets it was created with, a cancelled order none;
//! * tickets, orders and payments agree: each ticket of a completed order is sold to it,
//!   of a live order reserved for it, and no other ticket is sold or reserved; a completed
//!   order ↔ one succeeded payment;
//! * every succeeded payment charged the sum of its order's ticket prices;
//! * no order was charged twice.
//!
//! The services converge through events, so [`check_converged`] waits (bounded) until every
//! outbox is drained and the checks pass, then reports what is still wrong. Reading
//! ([`snapshot`]) and judging ([`rules`]) are apart so the rules can be tested on
//! hand-made stores.

pub mod rules;
pub mod snapshot;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use snapshot::Snapshot;
pub use snapshot::postgres::Databases;

/// Where a deployment keeps its stores.
#[derive(Debug, Clone)]
pub enum Stores {
    /// The embedded mode's `DATA_DIR`.
    Sqlite(PathBuf),
    /// The distributed mode's databases.
    Postgres(Databases),
}

impl From<&Path> for Stores {
    fn from(data_dir: &Path) -> Self {
        Self::Sqlite(data_dir.to_owned())
    }
}

impl From<&PathBuf> for Stores {
    fn from(data_dir: &PathBuf) -> Self {
        Self::Sqlite(data_dir.clone())
    }
}

impl Stores {
    async fn snapshot(&self) -> anyhow::Result<Snapshot> {
        match self {
            Self::Sqlite(dir) => snapshot::sqlite::read(dir).await,
            Self::Postgres(databases) => snapshot::postgres::read(databases).await,
        }
    }
}

/// What the checks found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Verdict {
    pub sold_tickets: u64,
    pub completed_orders: u64,
    /// Tickets in completed orders (equal to `sold_tickets` when all is well).
    pub completed_tickets: u64,
    /// Orders of more than one ticket, in any status.
    pub basket_orders: u64,
    pub succeeded_payments: u64,
    pub refunded_payments: u64,
    pub unsent_events: u64,
    pub dead_letters: u64,
    pub violations: Vec<String>,
}

impl Verdict {
    pub fn holds(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Runs every check once on `stores`.
pub async fn check(stores: impl Into<Stores>) -> anyhow::Result<Verdict> {
    Ok(rules::judge(&stores.into().snapshot().await?))
}

/// Waits until the outboxes are drained and the checks pass, for at most `patience`;
/// returns the last verdict either way.
pub async fn check_converged(
    stores: impl Into<Stores>,
    patience: Duration,
) -> anyhow::Result<Verdict> {
    let stores = stores.into();
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        let verdict = rules::judge(&stores.snapshot().await?);
        if (verdict.holds() && verdict.unsent_events == 0)
            || tokio::time::Instant::now() >= deadline
        {
            return Ok(verdict);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
