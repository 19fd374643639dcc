//! The events services exchange (CONTRACT.md §7): their type names and payloads.
//!
//! Besides the contract's events, internal ones carry the payment hand-shake:
//! `payment:pending` and `payment:failed` (payments → orders), `order:extended`
//! (orders → expiration, payments) when a hold's end moves, and the authorize → decide
//! step: `payment:authorized` (payments → orders: the money is held, complete the order)
//! answered by `order:completed` or `order:refused` (orders → payments: void it). Another,
//! `queue:line` (queue → orders), tells the orders service whose turn it is, so it can
//! enforce the line.
//!
//! The events catalogue (CONTRACT.md §11) adds `event:created` / `event:updated` (tickets →
//! queue and whoever follows events), `eventId` on ticket events, and `tickets: [{id,
//! price}]` on order events: an order may hold several tickets. Consumers read an order's
//! tickets through [`Basket::basket`], which falls back to the one `ticket` of events
//! written before baskets existed.
//!
//! Payloads are the `data` of the envelope. Money travels as integer minor units
//! (`price: 1250` is 12.50) — the only place a client-facing number becomes an integer
//! is the HTTP edge, so no float ever crosses a service boundary.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::Id;
use crate::order::{CancelReason, OrderStatus};

pub const TICKET_CREATED: &str = "ticket:created";
pub const TICKET_UPDATED: &str = "ticket:updated";
pub const TICKET_DELETED: &str = "ticket:deleted";
pub const ORDER_CREATED: &str = "order:created";
pub const ORDER_CANCELLED: &str = "order:cancelled";
pub const ORDER_COMPLETED: &str = "order:completed";
pub const EXPIRATION_COMPLETE: &str = "expiration:complete";
pub const PAYMENT_CREATED: &str = "payment:created";
pub const PAYMENT_REFUNDED: &str = "payment:refunded";
/// A payment for the order is in flight (the order waits in `awaiting:payment`).
pub const PAYMENT_PENDING: &str = "payment:pending";
/// A payment for the order was declined or failed authentication.
pub const PAYMENT_FAILED: &str = "payment:failed";
/// The payment's amount is authorized (held on the card, not yet taken): the orders
/// service is asked to complete the order for it (payments → orders).
pub const PAYMENT_AUTHORIZED: &str = "payment:authorized";
/// The orders service refused an authorized payment: the order can no longer be paid, so
/// the authorization is voided (orders → payments).
pub const ORDER_REFUSED: &str = "order:refused";
/// The order's hold now ends at a different time (payment started or failed).
pub const ORDER_EXTENDED: &str = "order:extended";
/// A ticket's line changed: whether buyers wait for it and whose turn it is (queue → orders).
pub const QUEUE_LINE: &str = "queue:line";
/// A new event (a concert, a match) tickets can be listed for.
pub const EVENT_CREATED: &str = "event:created";
/// An event's name, venue, start or description changed.
pub const EVENT_UPDATED: &str = "event:updated";
/// One session was signed out: its token must no longer be accepted anywhere (auth → every
/// service that authenticates requests).
pub const SESSION_REVOKED: &str = "session:revoked";
/// A user signed out everywhere: every session of theirs started until then is over (auth
/// → every service that authenticates requests).
pub const USER_SIGNED_OUT_EVERYWHERE: &str = "user:signed-out-everywhere";
/// An event's waiting room opened, changed or ended: whether orders for the event's
/// tickets need an admission and how many tickets one account may hold (queue → orders).
pub const ROOM_GATE: &str = "room:gate";

/// An event payload knows its own type name.
pub trait EventData: Serialize + for<'de> Deserialize<'de> {
    const TYPE: &'static str;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketCreated {
    pub id: Id,
    pub version: i64,
    pub title: String,
    /// Minor units.
    pub price: i64,
    pub user_id: Id,
    /// The event the ticket is for; `null` for a free-standing listing (and absent from
    /// events written before the catalogue).
    #[serde(default)]
    pub event_id: Option<Id>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketUpdated {
    pub id: Id,
    pub version: i64,
    pub title: String,
    /// Minor units.
    pub price: i64,
    pub user_id: Id,
    pub order_id: Option<Id>,
    /// As in [`TicketCreated::event_id`].
    #[serde(default)]
    pub event_id: Option<Id>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketDeleted {
    pub id: Id,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderCreated {
    pub id: Id,
    pub version: i64,
    pub status: OrderStatus,
    pub user_id: Id,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// The first of `tickets`, kept for consumers that know one ticket per order.
    pub ticket: OrderTicket,
    /// Every ticket the order holds, in the order the buyer asked for them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tickets: Vec<OrderTicket>,
}

/// The ticket as an order event describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderTicket {
    pub id: Id,
    /// Minor units; absent where the contract's payload has no price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCancelled {
    pub id: Id,
    pub version: i64,
    pub reason: CancelReason,
    pub ticket: OrderTicket,
    /// As in [`OrderCreated::tickets`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tickets: Vec<OrderTicket>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCompleted {
    pub id: Id,
    pub version: i64,
    pub ticket: OrderTicket,
    /// As in [`OrderCreated::tickets`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tickets: Vec<OrderTicket>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpirationComplete {
    pub order_id: Id,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentCreated {
    pub id: Id,
    pub order_id: Id,
    pub provider_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRefunded {
    pub id: Id,
    pub order_id: Id,
    pub provider_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentPending {
    pub id: Id,
    pub order_id: Id,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentFailed {
    pub id: Id,
    pub order_id: Id,
    /// The provider's message, e.g. "Your card was declined.".
    pub reason: String,
}

/// An authorized payment asks the orders service to complete its order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentAuthorized {
    pub id: Id,
    pub order_id: Id,
    /// Minor units held on the payer's card.
    pub amount: i64,
}

/// Why the orders service refused to complete an order for a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalReason {
    /// The order was cancelled before the payment was authorized.
    Cancelled,
    /// The order's hold had ended when the authorization arrived; it is now cancelled.
    Expired,
}

/// The orders service's "no" to an authorized payment (`order:completed` is its "yes").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderRefused {
    /// The order.
    pub id: Id,
    /// The order's version when it refused.
    pub version: i64,
    /// The payment whose authorization must be voided.
    pub payment_id: Id,
    pub reason: RefusalReason,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderExtended {
    pub id: Id,
    pub version: i64,
    /// `created` or `awaiting:payment`.
    pub status: OrderStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub ticket: OrderTicket,
    /// As in [`OrderCreated::tickets`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tickets: Vec<OrderTicket>,
}

/// An order's tickets, whichever way its event carries them.
pub trait Basket {
    /// Every ticket of the order: `tickets`, or the one `ticket` of an event written
    /// before orders had baskets.
    fn basket(&self) -> &[OrderTicket];

    /// The sum of the tickets' prices, in minor units (a ticket without one counts 0).
    fn total(&self) -> i64 {
        self.basket().iter().filter_map(|ticket| ticket.price).sum()
    }
}

macro_rules! basket {
    ($($ty:ident),*) => {$(
        impl Basket for $ty {
            fn basket(&self) -> &[OrderTicket] {
                if self.tickets.is_empty() {
                    std::slice::from_ref(&self.ticket)
                } else {
                    &self.tickets
                }
            }
        }
    )*};
}

basket!(OrderCreated, OrderCancelled, OrderCompleted, OrderExtended);

/// An event tickets are listed for, as `event:created` and `event:updated` carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventDetails {
    pub id: Id,
    pub version: i64,
    pub name: String,
    pub venue: String,
    #[serde(with = "time::serde::rfc3339")]
    pub starts_at: OffsetDateTime,
    /// Its creator, who alone may change it.
    pub user_id: Id,
}

/// `event:created`: a new event in the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventCreated(pub EventDetails);

/// `event:updated`: the event as it is now (its `version` one more than before).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventUpdated(pub EventDetails);

/// The state of one ticket's line, as the orders service needs it to enforce turns.
/// Each event carries the whole state, so a newer `version` simply replaces an older one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueLine {
    pub ticket_id: Id,
    pub version: i64,
    /// Buyers in the line, the one whose turn it is included.
    pub waiting: u64,
    pub turn: Option<QueueTurn>,
}

/// The exclusive turn of the buyer at the head of a line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueTurn {
    pub user_id: Id,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// `session:revoked`: the session `sid` of `user_id` ended before its expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRevoked {
    /// The session's id (the token's `sid` claim).
    pub sid: Id,
    pub user_id: Id,
    /// When the token would have expired anyway: the revocation can be forgotten then.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// `user:signed-out-everywhere`: every session of `user_id` started at or before
/// `valid_after` is over; sessions started later are not affected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserSignedOutEverywhere {
    pub user_id: Id,
    /// Millisecond precision: a session's start is the time in its UUIDv7 `sid`.
    #[serde(with = "time::serde::rfc3339")]
    pub valid_after: OffsetDateTime,
}

/// `room:gate`: the waiting room of `event_id` as the orders service must enforce it. Each
/// event carries the whole gate, so a newer `version` simply replaces an older one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomGate {
    pub event_id: Id,
    pub version: i64,
    /// Orders for the event's tickets need an admission while this is true.
    pub open: bool,
    /// Most tickets one account may hold in live or paid orders for the event.
    pub per_account_limit: u32,
}

macro_rules! event_types {
    ($($ty:ident => $name:ident),* $(,)?) => {$(
        impl EventData for $ty {
            const TYPE: &'static str = $name;
        }
    )*};
}

event_types!(
    TicketCreated => TICKET_CREATED,
    TicketUpdated => TICKET_UPDATED,
    TicketDeleted => TICKET_DELETED,
    OrderCreated => ORDER_CREATED,
    OrderCancelled => ORDER_CANCELLED,
    OrderCompleted => ORDER_COMPLETED,
    ExpirationComplete => EXPIRATION_COMPLETE,
    PaymentCreated => PAYMENT_CREATED,
    PaymentRefunded => PAYMENT_REFUNDED,
    PaymentPending => PAYMENT_PENDING,
    PaymentFailed => PAYMENT_FAILED,
    PaymentAuthorized => PAYMENT_AUTHORIZED,
    OrderRefused => ORDER_REFUSED,
    OrderExtended => ORDER_EXTENDED,
    QueueLine => QUEUE_LINE,
    EventCreated => EVENT_CREATED,
    EventUpdated => EVENT_UPDATED,
    SessionRevoked => SESSION_REVOKED,
    UserSignedOutEverywhere => USER_SIGNED_OUT_EVERYWHERE,
    RoomGate => ROOM_GATE,
);

/// Every event a service may receive, read from an envelope's `type` and `data`.
///
/// Consumers match on it exhaustively, so a new event type is a compile error in every
/// consumer until each has decided what it means to it. A type this build does not know
/// (published by a newer service) reads as [`Event::Unknown`] and is ignored, never an
/// error: services are deployed one at a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum Event {
    #[serde(rename = "ticket:created")]
    TicketCreated(TicketCreated),
    #[serde(rename = "ticket:updated")]
    TicketUpdated(TicketUpdated),
    #[serde(rename = "ticket:deleted")]
    TicketDeleted(TicketDeleted),
    #[serde(rename = "order:created")]
    OrderCreated(OrderCreated),
    #[serde(rename = "order:cancelled")]
    OrderCancelled(OrderCancelled),
    #[serde(rename = "order:completed")]
    OrderCompleted(OrderCompleted),
    #[serde(rename = "order:extended")]
    OrderExtended(OrderExtended),
    #[serde(rename = "expiration:complete")]
    ExpirationComplete(ExpirationComplete),
    #[serde(rename = "payment:created")]
    PaymentCreated(PaymentCreated),
    #[serde(rename = "payment:refunded")]
    PaymentRefunded(PaymentRefunded),
    #[serde(rename = "payment:pending")]
    PaymentPending(PaymentPending),
    #[serde(rename = "payment:failed")]
    PaymentFailed(PaymentFailed),
    #[serde(rename = "payment:authorized")]
    PaymentAuthorized(PaymentAuthorized),
    #[serde(rename = "order:refused")]
    OrderRefused(OrderRefused),
    #[serde(rename = "queue:line")]
    QueueLine(QueueLine),
    #[serde(rename = "event:created")]
    EventCreated(EventCreated),
    #[serde(rename = "event:updated")]
    EventUpdated(EventUpdated),
    #[serde(rename = "session:revoked")]
    SessionRevoked(SessionRevoked),
    #[serde(rename = "user:signed-out-everywhere")]
    UserSignedOutEverywhere(UserSignedOutEverywhere),
    #[serde(rename = "room:gate")]
    RoomGate(RoomGate),
    /// A type this build does not know.
    #[serde(other)]
    Unknown,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_from_type_and_data_and_unknown_types_do_not_fail() {
        let id = crate::new_id();
        let json = format!(
            r#"{{"type":"order:completed","data":{{"id":"{id}","version":2,"ticket":{{"id":"{id}"}}}}}}"#
        );
        let event: Event = serde_json::from_str(&json).expect("known type");
        assert_eq!(
            event,
            Event::OrderCompleted(OrderCompleted {
                id,
                version: 2,
                ticket: OrderTicket { id, price: None },
                tickets: vec![],
            })
        );
        // serde reads an unknown tag as `Unknown` only without content; the envelope
        // (platform's `Envelope::event`) falls back to that when a payload did not fit.
        let unknown: Event =
            serde_json::from_str(r#"{"type":"room:opened"}"#).expect("unknown type");
        assert_eq!(unknown, Event::Unknown);
        let malformed =
            serde_json::from_str::<Event>(r#"{"type":"order:completed","data":{"id":1}}"#);
        assert!(
            malformed.is_err(),
            "a known type with a bad payload is an error"
        );
    }

    #[test]
    fn order_events_spell_status_and_reason_as_before() {
        let id = crate::new_id();
        let cancelled = OrderCancelled {
            id,
            version: 1,
            reason: CancelReason::PaymentFailed,
            ticket: OrderTicket {
                id,
                price: Some(100),
            },
            tickets: vec![],
        };
        let json = serde_json::to_value(&cancelled).expect("serialize");
        assert_eq!(json["reason"], "payment_failed");
    }

    #[test]
    fn an_order_event_without_tickets_is_a_basket_of_its_one_ticket() {
        let (order, first, second) = (crate::new_id(), crate::new_id(), crate::new_id());
        let old = format!(
            r#"{{"id":"{order}","version":0,"status":"created","userId":"{order}",
                "expiresAt":"2026-01-01T00:00:00Z","ticket":{{"id":"{first}","price":500}}}}"#
        );
        let old: OrderCreated = serde_json::from_str(&old).expect("a one-ticket event");
        assert_eq!(old.basket().len(), 1);
        assert_eq!((old.basket()[0].id, old.total()), (first, 500));

        let ticket = |id, price| OrderTicket {
            id,
            price: Some(price),
        };
        let basket = OrderCreated {
            tickets: vec![ticket(first, 500), ticket(second, 250)],
            ..old
        };
        let json = serde_json::to_value(&basket).expect("serialize");
        assert_eq!(json["tickets"][1]["price"], 250);
        assert_eq!(json["ticket"]["id"], first.to_string());
        assert_eq!(basket.total(), 750);
    }

    #[test]
    fn event_details_travel_flat_with_a_camel_case_start() {
        let id = crate::new_id();
        let created = EventCreated(EventDetails {
            id,
            version: 0,
            name: "Concert".into(),
            venue: "Arena".into(),
            starts_at: OffsetDateTime::UNIX_EPOCH,
            user_id: id,
        });
        let json = serde_json::to_value(&created).expect("serialize");
        assert_eq!(json["startsAt"], "1970-01-01T00:00:00Z");
        assert_eq!(json["name"], "Concert");
        let back: Event = serde_json::from_value(serde_json::json!({
            "type": EVENT_CREATED, "data": json
        }))
        .expect("read back");
        assert_eq!(back, Event::EventCreated(created));
    }
}
