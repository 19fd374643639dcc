//! The rules, as pure functions of a [`Snapshot`]: each pushes one message per breach.
//!
//! Every rule looks at **every ticket of every order** (a basket keeps its first ticket in
//! `orders.ticket_id` and the others in `orders.more_tickets`), so a basket that sold,
//! reserved, held or charged only part of itself is caught like a one-ticket order that
//! went wrong.

use std::collections::{BTreeMap, BTreeSet};

use super::Verdict;
use super::snapshot::{CANCELLED, COMPLETE, Order, Snapshot};

/// Runs every rule on `snapshot`.
pub fn judge(snapshot: &Snapshot) -> Verdict {
    let complete: Vec<&Order> = snapshot
        .orders
        .iter()
        .filter(|o| o.status == COMPLETE)
        .collect();
    let mut verdict = Verdict {
        sold_tickets: snapshot
            .tickets
            .iter()
            .filter(|t| t.status == "sold")
            .count() as u64,
        completed_orders: complete.len() as u64,
        completed_tickets: complete.iter().map(|o| o.tickets.len() as u64).sum(),
        basket_orders: snapshot
            .orders
            .iter()
            .filter(|o| o.tickets.len() > 1)
            .count() as u64,
        succeeded_payments: snapshot.succeeded_payments.len() as u64,
        refunded_payments: snapshot.refunded_payments,
        unsent_events: snapshot.unsent_events,
        dead_letters: snapshot.dead_letters,
        violations: snapshot.unreadable.clone(),
    };
    let v = &mut verdict.violations;
    if snapshot.dead_letters > 0 {
        v.push(format!(
            "{} events were parked as dead letters instead of handled",
            snapshot.dead_letters
        ));
    }
    one_holder_per_ticket(snapshot, v);
    live_orders_have_time_left(snapshot, v);
    holds_match_orders(snapshot, v);
    tickets_service_agrees(snapshot, &complete, v);
    payments_match_orders(snapshot, v);
    verdict
}

/// Ticket → the orders holding it (live or complete), over every ticket of every order.
fn holders(snapshot: &Snapshot) -> BTreeMap<&str, Vec<&Order>> {
    let mut holders: BTreeMap<&str, Vec<&Order>> = BTreeMap::new();
    for order in snapshot.orders.iter().filter(|o| o.holds_tickets()) {
        for ticket in &order.tickets {
            holders.entry(&ticket.id).or_default().push(order);
        }
    }
    holders
}

fn one_holder_per_ticket(snapshot: &Snapshot, v: &mut Vec<String>) {
    for (ticket, orders) in holders(snapshot) {
        if orders.len() > 1 {
            v.push(format!(
                "ticket {ticket} has {} live or completed orders",
                orders.len()
            ));
        }
    }
}

fn live_orders_have_time_left(snapshot: &Snapshot, v: &mut Vec<String>) {
    for order in snapshot.orders.iter().filter(|o| o.is_live()) {
        if order.expires_at < snapshot.stale_before {
            v.push(format!(
                "order {} is still live although its hold ended at {}",
                order.id, order.expires_at
            ));
        }
    }
}

/// A live or complete order holds every ticket it was created with in `ticket_holds`, a
/// cancelled one none, and nothing holds a ticket for an order that is not its.
fn holds_match_orders(snapshot: &Snapshot, v: &mut Vec<String>) {
    let mut held_by: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (ticket, order) in &snapshot.holds {
        held_by.entry(order).or_default().insert(ticket);
    }
    for order in &snapshot.orders {
        let held = held_by.remove(order.id.as_str()).unwrap_or_default();
        let own: BTreeSet<&str> = order.tickets.iter().map(|t| t.id.as_str()).collect();
        if order.holds_tickets() && !own.is_subset(&held) {
            v.push(format!(
                "order {} ({}) holds {} of its {} tickets",
                order.id,
                order.status,
                own.intersection(&held).count(),
                own.len()
            ));
        }
        if order.status == CANCELLED && !held.is_empty() {
            v.push(format!(
                "cancelled order {} still holds {} tickets",
                order.id,
                held.len()
            ));
        }
        for stranger in held.difference(&own) {
            v.push(format!(
                "order {} holds ticket {stranger}, which is not one of its tickets",
                order.id
            ));
        }
    }
    for (order, tickets) in held_by {
        v.push(format!(
            "order {order}, which does not exist, holds {} tickets",
            tickets.len()
        ));
    }
}

/// Each ticket of a complete order is sold to it, of a live order reserved for it; and
/// every sold or reserved ticket belongs to such an order.
fn tickets_service_agrees(snapshot: &Snapshot, complete: &[&Order], v: &mut Vec<String>) {
    let by_id: BTreeMap<&str, _> = snapshot
        .tickets
        .iter()
        .map(|t| (t.id.as_str(), t))
        .collect();
    let sold = snapshot
        .tickets
        .iter()
        .filter(|t| t.status == "sold")
        .count();
    let completed_tickets: usize = complete.iter().map(|o| o.tickets.len()).sum();
    if sold != completed_tickets {
        v.push(format!(
            "{sold} tickets sold but {} orders completed ({completed_tickets} tickets in them)",
            complete.len()
        ));
    }
    let holders = holders(snapshot);
    for order in snapshot.orders.iter().filter(|o| o.holds_tickets()) {
        let expected = if order.is_live() { "reserved" } else { "sold" };
        for ticket in &order.tickets {
            match by_id.get(ticket.id.as_str()) {
                Some(t) if t.status == expected && t.order_id == order.id => {}
                Some(t) => v.push(format!(
                    "ticket {} of {} order {} is {} for order {}",
                    ticket.id, order.status, order.id, t.status, t.order_id
                )),
                None => v.push(format!(
                    "ticket {} of {} order {} is neither reserved nor sold",
                    ticket.id, order.status, order.id
                )),
            }
        }
    }
    for ticket in &snapshot.tickets {
        let rightful = holders.get(ticket.id.as_str()).is_some_and(|orders| {
            orders
                .iter()
                .any(|o| o.id == ticket.order_id && (o.is_live() == (ticket.status == "reserved")))
        });
        if !rightful {
            let (how, which) = if ticket.status == "sold" {
                ("sold to", "not its completed order")
            } else {
                ("reserved for", "not live")
            };
            v.push(format!(
                "ticket {} is {how} order {}, which is {which}",
                ticket.id, ticket.order_id
            ));
        }
    }
}

/// One succeeded payment per complete order and none for any other, each charging the sum
/// of its order's ticket prices.
fn payments_match_orders(snapshot: &Snapshot, v: &mut Vec<String>) {
    let orders: BTreeMap<&str, &Order> =
        snapshot.orders.iter().map(|o| (o.id.as_str(), o)).collect();
    let mut charges: BTreeMap<&str, u32> = BTreeMap::new();
    for payment in &snapshot.succeeded_payments {
        *charges.entry(&payment.order_id).or_default() += 1;
        if let Some(order) = orders.get(payment.order_id.as_str())
            && payment.amount != order.total()
        {
            v.push(format!(
                "payment {} charged {} for order {}, whose {} tickets cost {}",
                payment.id,
                payment.amount,
                order.id,
                order.tickets.len(),
                order.total()
            ));
        }
    }
    for (order, times) in &charges {
        if *times > 1 {
            v.push(format!("order {order} was charged {times} times"));
        }
        if orders.get(order).is_none_or(|o| o.status != COMPLETE) {
            v.push(format!(
                "order {order} was charged but is not complete (and not refunded)"
            ));
        }
    }
    for order in snapshot.orders.iter().filter(|o| o.status == COMPLETE) {
        if !charges.contains_key(order.id.as_str()) {
            v.push(format!(
                "order {} is complete without a succeeded payment",
                order.id
            ));
        }
    }
}

#[cfg(test)]
mod tests;
