//! The rules on hand-made stores: a consistent sale with baskets passes, and each way a
//! basket can be half-done is caught.

use super::judge;
use crate::invariants::snapshot::{Order, OrderedTicket, Payment, Snapshot, Ticket};

const FUTURE: &str = "2999-01-01T00:00:00.000000000Z";

fn order(id: &str, status: &str, tickets: &[(&str, i64)]) -> Order {
    Order {
        id: id.to_owned(),
        status: status.to_owned(),
        expires_at: FUTURE.to_owned(),
        tickets: tickets
            .iter()
            .map(|(id, price)| OrderedTicket {
                id: (*id).to_owned(),
                price: *price,
            })
            .collect(),
    }
}

fn ticket(id: &str, status: &str, order: &str) -> Ticket {
    Ticket {
        id: id.to_owned(),
        status: status.to_owned(),
        order_id: order.to_owned(),
    }
}

fn payment(order: &str, amount: i64) -> Payment {
    Payment {
        id: format!("pay-{order}"),
        order_id: order.to_owned(),
        amount,
    }
}

/// A paid basket (a, b, c), a live basket (d, e), a cancelled basket (f, g) and a paid
/// one-ticket order (h) — every store agreeing.
fn consistent() -> Snapshot {
    Snapshot {
        orders: vec![
            order("paid", "complete", &[("a", 2000), ("b", 3000), ("c", 2000)]),
            order("live", "created", &[("d", 1000), ("e", 1500)]),
            order("gone", "cancelled", &[("f", 1000), ("g", 1000)]),
            order("single", "complete", &[("h", 4200)]),
        ],
        holds: [
            ("a", "paid"),
            ("b", "paid"),
            ("c", "paid"),
            ("d", "live"),
            ("e", "live"),
            ("h", "single"),
        ]
        .iter()
        .map(|(t, o)| ((*t).to_owned(), (*o).to_owned()))
        .collect(),
        tickets: vec![
            ticket("a", "sold", "paid"),
            ticket("b", "sold", "paid"),
            ticket("c", "sold", "paid"),
            ticket("d", "reserved", "live"),
            ticket("e", "reserved", "live"),
            ticket("h", "sold", "single"),
        ],
        succeeded_payments: vec![payment("paid", 7000), payment("single", 4200)],
        stale_before: "2000-01-01T00:00:00.000000000Z".to_owned(),
        ..Snapshot::default()
    }
}

fn violations(snapshot: &Snapshot) -> Vec<String> {
    judge(snapshot).violations
}

fn assert_caught(snapshot: &Snapshot, expected: &str) {
    let found = violations(snapshot);
    assert!(
        found.iter().any(|v| v.contains(expected)),
        "expected {expected:?} among {found:#?}"
    );
}

#[test]
fn a_consistent_sale_with_baskets_holds_and_is_counted() {
    let verdict = judge(&consistent());
    assert!(verdict.holds(), "{:#?}", verdict.violations);
    assert_eq!(verdict.sold_tickets, 4);
    assert_eq!(verdict.completed_orders, 2);
    assert_eq!(verdict.completed_tickets, 4);
    assert_eq!(verdict.basket_orders, 3);
    assert_eq!(verdict.succeeded_payments, 2);
}

#[test]
fn a_ticket_in_two_live_baskets_is_caught() {
    let mut s = consistent();
    s.orders.push(order(
        "rival",
        "awaiting:payment",
        &[("x", 500), ("e", 1500)],
    ));
    assert_caught(&s, "ticket e has 2 live or completed orders");
}

#[test]
fn a_basket_holding_fewer_tickets_than_it_was_created_with_is_caught() {
    let mut s = consistent();
    s.holds.retain(|(t, _)| t != "b");
    assert_caught(&s, "order paid (complete) holds 2 of its 3 tickets");
}

#[test]
fn a_cancelled_basket_still_holding_is_caught() {
    let mut s = consistent();
    s.holds.push(("g".to_owned(), "gone".to_owned()));
    assert_caught(&s, "cancelled order gone still holds 1 tickets");
}

#[test]
fn holds_for_strangers_and_missing_orders_are_caught() {
    let mut s = consistent();
    s.holds.push(("z".to_owned(), "live".to_owned()));
    s.holds.push(("y".to_owned(), "ghost".to_owned()));
    assert_caught(
        &s,
        "order live holds ticket z, which is not one of its tickets",
    );
    assert_caught(&s, "order ghost, which does not exist, holds 1 tickets");
}

#[test]
fn a_payment_for_part_of_a_basket_is_caught() {
    let mut s = consistent();
    s.succeeded_payments[0].amount = 2000;
    assert_caught(&s, "charged 2000 for order paid, whose 3 tickets cost 7000");
}

#[test]
fn a_basket_sold_only_in_part_is_caught() {
    let mut s = consistent();
    s.tickets.retain(|t| t.id != "c");
    assert_caught(
        &s,
        "3 tickets sold but 2 orders completed (4 tickets in them)",
    );
    assert_caught(
        &s,
        "ticket c of complete order paid is neither reserved nor sold",
    );
}

#[test]
fn a_live_baskets_ticket_reserved_for_another_order_is_caught() {
    let mut s = consistent();
    s.tickets[4] = ticket("e", "reserved", "gone");
    assert_caught(
        &s,
        "ticket e of created order live is reserved for order gone",
    );
    assert_caught(&s, "ticket e is reserved for order gone, which is not live");
}

#[test]
fn charging_twice_or_for_an_open_order_is_caught() {
    let mut s = consistent();
    s.succeeded_payments.push(payment("single", 4200));
    s.succeeded_payments.push(payment("live", 2500));
    assert_caught(&s, "order single was charged 2 times");
    assert_caught(&s, "order live was charged but is not complete");
    s.succeeded_payments.retain(|p| p.order_id != "paid");
    assert_caught(&s, "order paid is complete without a succeeded payment");
}

#[test]
fn an_order_past_its_hold_and_an_unreadable_basket_are_caught() {
    let mut s = consistent();
    s.orders[1].expires_at = "1999-01-01T00:00:00.000000000Z".to_owned();
    s.unreadable
        .push("order q has an unreadable basket".to_owned());
    assert_caught(&s, "order live is still live although its hold ended");
    assert_caught(&s, "order q has an unreadable basket");
}
