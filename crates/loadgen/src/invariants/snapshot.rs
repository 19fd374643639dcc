//! The services' stores read into plain values, so that the rules in [`super::rules`] are
//! pure functions — testable on hand-made snapshots, without a server.
//!
//! Each backend reads the same rows ([`Rows`]): [`sqlite`] the embedded mode's files,
//! read-only; [`postgres`] the distributed mode's databases. One function turns them into
//! a snapshot.

pub mod postgres;
pub mod sqlite;

use boxoffice_platform::db::sqlite::time_text;
use serde::Deserialize;

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
    /// Events a consumer parked after its last delivery, in any store.
    pub dead_letters: u64,
    /// A live order whose hold ended before this moment should have been expired.
    pub stale_before: String,
    /// What could not be read (an unreadable basket); each is a violation.
    pub unreadable: Vec<String>,
}

/// The relational stores with an outbox and dead letters, whose unsent rows and dead
/// letters a snapshot counts (the distributed queue keeps its own in Redis).
pub const WITH_OUTBOX: [&str; 5] = ["auth", "tickets", "orders", "payments", "expiration"];

/// The rows a snapshot is made of, as both backends read them (ids and times as text).
#[derive(Debug, Default)]
pub struct Rows {
    /// `(id, status, expires_at, ticket_id, ticket_price, more_tickets)` of every order.
    pub orders: Vec<(String, String, String, String, i64, Option<String>)>,
    /// `(ticket_id, order_id)` of `ticket_holds`, read with the orders.
    pub holds: Vec<(String, String)>,
    /// `(id, status, order_id)` of the reserved and sold tickets not deleted.
    pub tickets: Vec<(String, String, Option<String>)>,
    /// `(id, order_id, amount)` of the succeeded payments.
    pub succeeded_payments: Vec<(String, String, i64)>,
    pub refunded_payments: i64,
    /// Unsent outbox rows of every service's store.
    pub unsent_events: i64,
    /// Dead letters of every service's store.
    pub dead_letters: i64,
}

/// A basket ticket after the first, as `orders.more_tickets` keeps it.
#[derive(Debug, Deserialize)]
struct MoreTicket {
    id: String,
    price: i64,
}

impl Snapshot {
    /// The snapshot of `rows`, read at `now`.
    pub fn from_rows(rows: Rows, now: time::OffsetDateTime) -> Self {
        let mut snapshot = Self {
            holds: rows.holds,
            refunded_payments: u64::try_from(rows.refunded_payments).unwrap_or_default(),
            unsent_events: u64::try_from(rows.unsent_events).unwrap_or_default(),
            dead_letters: u64::try_from(rows.dead_letters).unwrap_or_default(),
            stale_before: time_text(now - time::Duration::seconds(10)),
            ..Self::default()
        };
        for (id, status, expires_at, ticket_id, price, more) in rows.orders {
            let mut tickets = vec![OrderedTicket {
                id: ticket_id,
                price,
            }];
            if let Some(more) = more {
                match serde_json::from_str::<Vec<MoreTicket>>(&more) {
                    Ok(more) => tickets.extend(more.into_iter().map(|t| OrderedTicket {
                        id: t.id,
                        price: t.price,
                    })),
                    Err(err) => snapshot.unreadable.push(format!(
                        "order {id} has an unreadable basket ({err}): {more}"
                    )),
                }
            }
            snapshot.orders.push(Order {
                id,
                status,
                expires_at,
                tickets,
            });
        }
        snapshot.tickets = rows
            .tickets
            .into_iter()
            .map(|(id, status, order_id)| Ticket {
                id,
                status,
                order_id: order_id.unwrap_or_default(),
            })
            .collect();
        snapshot.succeeded_payments = rows
            .succeeded_payments
            .into_iter()
            .map(|(id, order_id, amount)| Payment {
                id,
                order_id,
                amount,
            })
            .collect();
        snapshot
    }
}
