//! Every statement of the orders store, once. `$n` placeholders work on both drivers;
//! ids and times are bound and read as `DbId`/`DbTime`, which encode per database.
//! The upserts' `ON CONFLICT … DO UPDATE SET … excluded.…` is spelled the same by SQLite
//! and PostgreSQL. Where a statement exists for one database only, its name says which.

/// One order by id, for reading.
pub const ORDER_BY_ID: &str = "SELECT id, user_id, ticket_id, ticket_title, ticket_price, \
     ticket_version, more_tickets, status, cancel_reason, expires_at, hold_until, version, \
     created_at FROM orders WHERE id = $1";

/// [`ORDER_BY_ID`] with a row lock, for a change (PostgreSQL only: on SQLite the whole
/// database is locked by `BEGIN IMMEDIATE` instead).
pub const ORDER_BY_ID_FOR_UPDATE_PG: &str = "SELECT id, user_id, ticket_id, ticket_title, \
     ticket_price, ticket_version, more_tickets, status, cancel_reason, expires_at, \
     hold_until, version, created_at FROM orders WHERE id = $1 FOR UPDATE";

/// A buyer's orders, oldest first.
pub const ORDERS_OF_USER: &str = "SELECT id, user_id, ticket_id, ticket_title, ticket_price, \
     ticket_version, more_tickets, status, cancel_reason, expires_at, hold_until, version, \
     created_at FROM orders WHERE user_id = $1 ORDER BY created_at, id";

/// A new order. Its tickets are held by [`HOLD_TICKETS`] rows in the same transaction.
pub const INSERT_ORDER: &str = "INSERT INTO orders (id, user_id, ticket_id, ticket_title, \
     ticket_price, ticket_version, more_tickets, status, cancel_reason, expires_at, \
     hold_until, version, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";

/// The start of the statement that holds an order's tickets, one row per ticket; the rows
/// follow as `VALUES` (see `holds.rs`). The primary key refuses a ticket another order
/// holds, which fails the whole statement and so the whole basket.
pub const HOLD_TICKETS: &str = "INSERT INTO ticket_holds (ticket_id, order_id) ";

/// The start of the query for which of some tickets are held; the list follows.
pub const HELD_AMONG: &str = "SELECT ticket_id FROM ticket_holds WHERE ticket_id IN (";

/// Frees every ticket of a cancelled order.
/// Every hold, for the embedded store's copy of them (`memory`).
pub const ALL_HOLDS: &str = "SELECT ticket_id, order_id FROM ticket_holds";
pub const RELEASE_HOLDS: &str = "DELETE FROM ticket_holds WHERE order_id = $1";

/// What a change to an order may change.
pub const UPDATE_ORDER: &str = "UPDATE orders SET status = $1, cancel_reason = $2, \
     expires_at = $3, version = $4 WHERE id = $5";

/// One ticket of the replica.
pub const TICKET_BY_ID: &str =
    "SELECT id, title, price, user_id, version, deleted, event_id FROM tickets WHERE id = $1";

/// A ticket of the replica with its line, if the queue service ever reported one.
pub const TICKET_WITH_LINE: &str = "SELECT t.id, t.title, t.price, t.user_id, t.version, \
     t.deleted, t.event_id, l.version AS line_version, l.waiting, l.turn_user_id, l.turn_expires_at \
     FROM tickets t LEFT JOIN ticket_lines l ON l.ticket_id = t.id WHERE t.id = $1";

/// Serialises replica updates of one ticket across instances of this service
/// (PostgreSQL only: SQLite has one writer anyway).
pub const LOCK_TICKET_PG: &str = "SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))";

/// Stores a ticket's new replica version.
pub const UPSERT_TICKET: &str = "INSERT INTO tickets (id, title, price, user_id, version, \
     deleted, event_id) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET \
     title = excluded.title, price = excluded.price, user_id = excluded.user_id, \
     version = excluded.version, deleted = excluded.deleted, event_id = excluded.event_id";

/// An event's waiting room as the queue service last reported it.
pub const ROOM_GATE: &str =
    "SELECT event_id, version, open, per_account_limit FROM event_rooms WHERE event_id = $1";

/// Keeps an event's room gate if it is newer than the stored one (one row affected) or
/// leaves the stored one (none).
pub const UPSERT_ROOM_GATE: &str = "INSERT INTO event_rooms (event_id, version, open, \
     per_account_limit) VALUES ($1, $2, $3, $4) ON CONFLICT (event_id) DO UPDATE SET \
     version = excluded.version, open = excluded.open, \
     per_account_limit = excluded.per_account_limit \
     WHERE event_rooms.version < excluded.version";

/// How many tickets of `$2` (an event) `$1` (a buyer) holds in live or paid orders: what
/// the event's per-account limit counts. Run in the transaction that places the order,
/// after the buyer's lock (PostgreSQL) or under the single writer (SQLite), so two
/// orders of one buyer cannot both pass it.
pub const TICKETS_OF_BUYER_FOR_EVENT: &str = "SELECT COUNT(*) FROM ticket_holds h \
     JOIN orders o ON o.id = h.order_id JOIN tickets t ON t.id = h.ticket_id \
     WHERE o.user_id = $1 AND t.event_id = $2";

/// Serialises the orders of one buyer for one event across instances of this service
/// (PostgreSQL only), so the per-account count above is decided one order at a time.
pub const LOCK_BUYER_EVENT_PG: &str =
    "SELECT pg_advisory_xact_lock(hashtextextended($1::text || '/' || $2::text, 0))";

/// Keeps a ticket's line if it is newer than the stored one (one row affected) or
/// leaves the stored one (none).
pub const UPSERT_LINE: &str = "INSERT INTO ticket_lines (ticket_id, version, waiting, \
     turn_user_id, turn_expires_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (ticket_id) \
     DO UPDATE SET version = excluded.version, waiting = excluded.waiting, \
     turn_user_id = excluded.turn_user_id, turn_expires_at = excluded.turn_expires_at \
     WHERE ticket_lines.version < excluded.version";
