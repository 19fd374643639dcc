//! An order as the buying pages show it: the API's order JSON read once into plain
//! fields, with the words every page uses for its status and reason (UI.md "Words and
//! statuses"), its times in UTC, and its amounts through `money`. Also fetching an order,
//! which every buying page does.

use axum::http::StatusCode;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

use crate::Web;
use crate::api::Reply;
use crate::failure::Failure;
use crate::money;
use crate::visitor::Visitor;

use super::common::require_user;

/// One ticket of an order, as it was when the order was placed.
#[derive(Debug, Clone)]
pub struct OrderLine {
    pub id: String,
    pub title: String,
    /// Formatted with the currency.
    pub price: String,
}

#[derive(Debug, Clone)]
pub struct OrderView {
    pub id: String,
    /// The API's status: `created`, `awaiting:payment`, `complete`, `cancelled`.
    pub status: String,
    pub tickets: Vec<OrderLine>,
    /// What paying charges, formatted with the currency.
    pub total: String,
    pub expires_at: Option<OffsetDateTime>,
    pub created_at: Option<OffsetDateTime>,
    /// `user`, `expired`, `payment_failed` for a cancelled order.
    pub cancel_reason: Option<String>,
}

impl OrderView {
    pub fn from_json(order: &Value, currency: &str) -> Self {
        let line = |ticket: &Value| OrderLine {
            id: text(&ticket["id"]),
            title: text(&ticket["title"]),
            price: money::show(&ticket["price"], currency),
        };
        let tickets: Vec<OrderLine> = order["tickets"]
            .as_array()
            .map(|tickets| tickets.iter().map(line).collect())
            .unwrap_or_default();
        Self {
            id: text(&order["id"]),
            status: text(&order["status"]),
            tickets,
            total: money::show(&order["total"], currency),
            expires_at: instant(&order["expiresAt"]),
            created_at: instant(&order["createdAt"]),
            cancel_reason: order["cancelReason"].as_str().map(str::to_owned),
        }
    }

    /// Still holding its tickets (`created` or `awaiting:payment`).
    pub fn is_open(&self) -> bool {
        matches!(self.status.as_str(), "created" | "awaiting:payment")
    }

    /// `created` but past `expiresAt`: the expiry job has not caught up yet, and paying
    /// would be refused, so the page says the hold has ended.
    pub fn hold_ended(&self, now: OffsetDateTime) -> bool {
        self.status == "created" && self.expires_at.is_some_and(|at| at <= now)
    }

    /// The status badge's words.
    pub fn badge(&self) -> &'static str {
        badge(&self.status)
    }

    /// The badge's CSS class (site.css colours it).
    pub fn badge_class(&self) -> &'static str {
        match self.status.as_str() {
            "created" => "awaiting",
            "awaiting:payment" => "progress",
            "complete" => "complete",
            _ => "cancelled",
        }
    }

    /// Why a cancelled order was cancelled, in plain words.
    pub fn reason(&self) -> Option<&'static str> {
        if self.status != "cancelled" {
            return None;
        }
        self.cancel_reason.as_deref().map(reason)
    }

    pub fn expired(&self) -> bool {
        self.cancel_reason.as_deref() == Some("expired")
    }

    /// "14:32 UTC": when the hold ends.
    pub fn held_until(&self) -> String {
        self.expires_at.map(clock_time).unwrap_or_default()
    }

    /// `expiresAt` for the countdown script.
    pub fn expires_at_rfc3339(&self) -> String {
        self.expires_at.map(rfc3339).unwrap_or_default()
    }

    /// "3 March 2025, 14:02 UTC": when the order was placed.
    pub fn date(&self) -> String {
        self.created_at.map(long_date).unwrap_or_default()
    }

    /// The machine-readable form of [`Self::date`], for `<time datetime>`.
    pub fn date_rfc3339(&self) -> String {
        self.created_at.map(rfc3339).unwrap_or_default()
    }

    /// "Concert in the park", or "3 tickets".
    pub fn what(&self) -> String {
        match self.tickets.as_slice() {
            [one] => one.title.clone(),
            many => format!("{} tickets", many.len()),
        }
    }

    /// "this ticket" / "these tickets", for sentences about the hold.
    pub fn these(&self) -> &'static str {
        if self.tickets.len() == 1 {
            "this ticket"
        } else {
            "these tickets"
        }
    }

    /// The first ticket's id, for "Check if it's still available".
    pub fn first_ticket(&self) -> &str {
        self.tickets.first().map_or("", |line| line.id.as_str())
    }
}

/// Order status badges (UI.md): the same words on every page.
pub fn badge(status: &str) -> &'static str {
    match status {
        "created" => "Awaiting payment",
        "awaiting:payment" => "Payment in progress",
        "complete" => "Complete",
        _ => "Cancelled",
    }
}

/// A cancel reason in plain words.
pub fn reason(code: &str) -> &'static str {
    match code {
        "expired" => "Hold ended before payment",
        "user" => "You cancelled",
        "payment_failed" => "Payment failed",
        _ => "Cancelled",
    }
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

/// An RFC 3339 timestamp from the API.
pub fn instant(value: &Value) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(value.as_str()?, &Rfc3339).ok()
}

pub fn rfc3339(at: OffsetDateTime) -> String {
    at.to_offset(UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// "14:32 UTC".
pub fn clock_time(at: OffsetDateTime) -> String {
    at.to_offset(UtcOffset::UTC)
        .format(format_description!("[hour]:[minute] UTC"))
        .unwrap_or_default()
}

/// "14:32:05 UTC", for short windows such as a queue turn.
pub fn clock_time_seconds(at: OffsetDateTime) -> String {
    at.to_offset(UtcOffset::UTC)
        .format(format_description!("[hour]:[minute]:[second] UTC"))
        .unwrap_or_default()
}

fn long_date(at: OffsetDateTime) -> String {
    at.to_offset(UtcOffset::UTC)
        .format(format_description!(
            "[day padding:none] [month repr:long] [year], [hour]:[minute] UTC"
        ))
        .unwrap_or_default()
}

/// The order `id` of the signed-in visitor, or the failure its answer stands for (sign
/// in and come back to `next`, 404 — also for someone else's order, …).
pub async fn fetch_order(
    web: &Web,
    visitor: &Visitor,
    id: &str,
    next: &str,
) -> Result<Value, Failure> {
    require_user(visitor, next)?;
    let reply = web
        .api
        .get(&format!("/api/orders/{id}"), visitor.session())
        .await?;
    if reply.status == StatusCode::UNAUTHORIZED {
        // Signed in (the API just said who this is), so: someone else's order. It is
        // not theirs to see, and signing in again would not change that.
        return Err(Failure::NotFound);
    }
    ok_body(reply, next)
}

/// The body of a successful answer, or the failure it stands for.
pub fn ok_body(reply: Reply, next: &str) -> Result<Value, Failure> {
    if reply.is_success() {
        Ok(reply.body)
    } else {
        Err(Failure::from_reply(&reply, next))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_order_reads_in_plain_words() {
        let order = json!({
            "id": "o1", "status": "cancelled", "cancelReason": "expired",
            "expiresAt": "2025-03-03T14:32:09Z", "createdAt": "2025-03-03T14:17:09.5Z",
            "ticket": {"id": "t1", "title": "Gig", "price": 20.5},
            "tickets": [{"id": "t1", "title": "Gig", "price": 20.5},
                        {"id": "t2", "title": "Gig", "price": 10}],
            "total": 30.5
        });
        let view = OrderView::from_json(&order, "usd");
        assert_eq!(view.total, "$30.50");
        assert_eq!(view.tickets[1].price, "$10.00");
        assert_eq!(view.held_until(), "14:32 UTC");
        assert_eq!(view.date(), "3 March 2025, 14:17 UTC");
        assert_eq!(view.badge(), "Cancelled");
        assert_eq!(view.reason(), Some("Hold ended before payment"));
        assert_eq!(view.what(), "2 tickets");
        assert_eq!(badge("awaiting:payment"), "Payment in progress");
        assert_eq!(reason("user"), "You cancelled");
    }
}
