//! The order state machine: each transition, what it refuses, and the event it returns.

use boxoffice_common::new_id;

use super::*;

fn order(status: OrderStatus) -> Order {
    Order {
        id: new_id(),
        user_id: new_id(),
        ticket: OrderedTicket {
            id: new_id(),
            title: "Concert".into(),
            price: Money::from_minor(2000),
            version: 0,
        },
        more_tickets: vec![],
        status,
        expires_at: OffsetDateTime::UNIX_EPOCH,
        hold_until: OffsetDateTime::UNIX_EPOCH,
        version: 0,
        created_at: OffsetDateTime::UNIX_EPOCH,
        cancel_reason: None,
    }
}

fn buyer_of(order: &Order) -> UserId {
    UserId(order.user_id)
}

fn later(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(seconds)
}

const CEILING: std::time::Duration = std::time::Duration::from_secs(600);

#[test]
fn a_placed_order_holds_its_ticket_for_the_window_and_says_so() {
    let ticket = TicketReplica {
        id: new_id(),
        title: "Concert".into(),
        price: Money::from_minor(2000),
        user_id: new_id(),
        version: 3,
        deleted: false,
        event_id: None,
    };
    let (id, buyer) = (OrderId(new_id()), UserId(new_id()));
    let window = std::time::Duration::from_secs(900);
    let (order, created) =
        Order::place(id, buyer, vec![ticket.clone()], later(0), window).expect("placed");
    assert_eq!(
        (
            order.status,
            order.expires_at,
            order.hold_until,
            order.version
        ),
        (OrderStatus::Created, later(900), later(900), 0)
    );
    assert_eq!(order.ticket.version, 3);
    assert_eq!(
        created,
        OrderCreated {
            id: id.get(),
            version: 0,
            status: OrderStatus::Created,
            user_id: buyer.get(),
            expires_at: later(900),
            ticket: OrderTicket {
                id: ticket.id,
                price: Some(2000)
            },
            tickets: vec![OrderTicket {
                id: ticket.id,
                price: Some(2000)
            }],
        }
    );
    let seller = UserId(ticket.user_id);
    assert_eq!(
        Order::place(id, seller, vec![ticket], later(0), window).map(|_| ()),
        Err(OrderError::Refused(OWN_TICKET))
    );
}

#[test]
fn the_buyer_cancels_a_live_order_once() {
    let mut live = order(OrderStatus::Created);
    let buyer = buyer_of(&live);
    assert_eq!(live.cancel_by(UserId(new_id())), Err(OrderError::NotOwner));
    let cancelled = live.cancel_by(buyer).expect("cancel");
    assert_eq!(
        (live.status, live.cancel_reason, live.version),
        (OrderStatus::Cancelled, Some(CancelReason::User), 1)
    );
    assert_eq!(
        cancelled,
        OrderCancelled {
            id: live.id,
            version: 1,
            reason: CancelReason::User,
            ticket: OrderTicket {
                id: live.ticket.id,
                price: None
            },
            tickets: vec![OrderTicket {
                id: live.ticket.id,
                price: None
            }],
        }
    );
    assert_eq!(
        live.cancel_by(buyer),
        Err(OrderError::Refused(ALREADY_CANCELLED))
    );

    let mut paid = order(OrderStatus::Complete);
    let buyer = buyer_of(&paid);
    assert_eq!(
        paid.cancel_by(buyer),
        Err(OrderError::Refused(CANNOT_CANCEL_COMPLETED))
    );
}

#[test]
fn only_live_orders_past_their_hold_expire() {
    let mut live = order(OrderStatus::Created);
    live.expires_at = later(60);
    assert_eq!(live.expire(later(30)), None, "not yet");
    let expired = live.expire(later(60)).expect("due");
    assert_eq!(
        (expired.reason, expired.version),
        (CancelReason::Expired, 1)
    );
    assert_eq!(live.cancel_reason, Some(CancelReason::Expired));
    assert_eq!(
        live.expire(later(90)),
        None,
        "a second expiry changes nothing"
    );
    let mut paid = order(OrderStatus::Complete);
    assert_eq!(paid.expire(later(90)), None);
    assert_eq!(paid.status, OrderStatus::Complete);
}

#[test]
fn a_payment_in_flight_extends_the_hold_up_to_the_ceiling() {
    let mut o = order(OrderStatus::Created);
    o.expires_at = later(60);
    o.hold_until = later(60);
    let extended = o.await_payment(later(50), CEILING).expect("moved");
    assert_eq!(
        (o.status, o.expires_at, o.version),
        (OrderStatus::AwaitingPayment, later(650), 1)
    );
    assert_eq!(
        extended,
        OrderExtended {
            id: o.id,
            version: 1,
            status: OrderStatus::AwaitingPayment,
            expires_at: later(650),
            ticket: OrderTicket {
                id: o.ticket.id,
                price: Some(2000)
            },
            tickets: vec![OrderTicket {
                id: o.ticket.id,
                price: Some(2000)
            }],
        }
    );
    assert_eq!(
        o.expire(later(61)),
        None,
        "the original expiry no longer applies"
    );
    assert!(o.expire(later(650)).is_some(), "the ceiling does");

    let mut late = order(OrderStatus::Created);
    late.expires_at = later(60);
    assert_eq!(
        late.await_payment(later(61), CEILING),
        None,
        "the hold already ended"
    );
}

#[test]
fn a_failed_payment_falls_back_to_the_hold_or_cancels() {
    let mut o = order(OrderStatus::Created);
    o.expires_at = later(60);
    o.hold_until = later(60);
    o.await_payment(later(10), CEILING);
    let Some(OrderEvent::Extended(back)) = o.payment_failed(later(20)) else {
        panic!("expected order:extended");
    };
    assert_eq!((o.status, o.expires_at), (OrderStatus::Created, later(60)));
    assert_eq!(
        (back.status, back.expires_at, back.version),
        (OrderStatus::Created, later(60), 2)
    );
    assert_eq!(o.payment_failed(later(30)), None, "no payment in flight");

    o.await_payment(later(30), CEILING);
    let Some(OrderEvent::Cancelled(cancelled)) = o.payment_failed(later(61)) else {
        panic!("expected order:cancelled");
    };
    assert_eq!(
        (o.status, o.cancel_reason),
        (OrderStatus::Cancelled, Some(CancelReason::PaymentFailed))
    );
    assert_eq!(cancelled.reason, CancelReason::PaymentFailed);
}

#[test]
fn only_live_orders_complete() {
    let mut live = order(OrderStatus::AwaitingPayment);
    assert_eq!(
        live.complete(),
        Some(OrderCompleted {
            id: live.id,
            version: 1,
            ticket: OrderTicket {
                id: live.ticket.id,
                price: None
            },
            tickets: vec![OrderTicket {
                id: live.ticket.id,
                price: None
            }],
        })
    );
    assert!(order(OrderStatus::Created).complete().is_some());
    assert_eq!(order(OrderStatus::Cancelled).complete(), None);
    assert_eq!(order(OrderStatus::Complete).complete(), None);
}

#[test]
fn an_authorized_payment_completes_a_held_order_and_is_refused_otherwise() {
    let payment = new_id();
    for status in [OrderStatus::Created, OrderStatus::AwaitingPayment] {
        let mut held = order(status);
        held.expires_at = later(60);
        let events = held.decide_payment(payment, later(10));
        assert!(
            matches!(events.as_slice(), [OrderEvent::Completed(c)] if c.version == 1),
            "{events:?}"
        );
        assert_eq!(held.status, OrderStatus::Complete);
        assert_eq!(
            held.decide_payment(payment, later(11)),
            vec![],
            "asked again: nothing"
        );
    }

    let mut ended = order(OrderStatus::AwaitingPayment);
    ended.expires_at = later(60);
    let events = ended.decide_payment(payment, later(60));
    let [
        OrderEvent::Cancelled(cancelled),
        OrderEvent::Refused(refused),
    ] = events.as_slice()
    else {
        panic!("expected cancel and refusal: {events:?}");
    };
    assert_eq!(cancelled.reason, CancelReason::Expired);
    assert_eq!(
        (refused.payment_id, refused.reason, refused.version),
        (payment, RefusalReason::Expired, 1)
    );

    let mut cancelled = order(OrderStatus::Cancelled);
    let events = cancelled.decide_payment(payment, later(0));
    assert!(
        matches!(events.as_slice(), [OrderEvent::Refused(r)] if r.reason == RefusalReason::Cancelled && r.version == 0),
        "{events:?}"
    );
    assert_eq!(cancelled.version, 0, "a refusal changes nothing");
}

#[test]
fn a_basket_holds_every_ticket_and_its_events_name_them_all() {
    let seller = new_id();
    let ticket = |price| TicketReplica {
        id: new_id(),
        title: "Seat".into(),
        price: Money::from_minor(price),
        user_id: seller,
        version: 0,
        deleted: false,
        event_id: None,
    };
    let (a, b, c) = (ticket(1000), ticket(2550), ticket(450));
    let buyer = UserId(new_id());
    let window = std::time::Duration::from_secs(60);
    let asked = vec![a.clone(), b.clone(), c.clone()];
    let (mut order, created) =
        Order::place(OrderId(new_id()), buyer, asked, later(0), window).expect("placed");
    assert_eq!(order.ticket.id, a.id, "the first asked is `ticket`");
    let ids: Vec<Id> = order.tickets().map(|t| t.id).collect();
    assert_eq!(ids, vec![a.id, b.id, c.id], "in the order asked");
    assert_eq!(order.total(), Money::from_minor(4000));
    assert_eq!(created.ticket.id, a.id);
    let priced: Vec<_> = created.tickets.iter().map(|t| (t.id, t.price)).collect();
    assert_eq!(
        priced,
        vec![(a.id, Some(1000)), (b.id, Some(2550)), (c.id, Some(450))]
    );

    let cancelled = order.cancel_by(buyer).expect("cancel");
    let freed: Vec<Id> = cancelled.tickets.iter().map(|t| t.id).collect();
    assert_eq!(freed, ids, "cancelling frees the whole basket");

    let mine = TicketReplica {
        user_id: buyer.get(),
        ..ticket(100)
    };
    assert_eq!(
        Order::place(OrderId(new_id()), buyer, vec![a, mine], later(0), window).map(|_| ()),
        Err(OrderError::Refused(OWN_TICKET)),
        "one of the buyer's own tickets refuses the basket"
    );
    assert_eq!(
        Order::place(OrderId(new_id()), buyer, vec![], later(0), window).map(|_| ()),
        Err(OrderError::Refused(TICKET_ID_REQUIRED))
    );
}

#[test]
fn a_tickets_refusal_follows_the_contracts_order() {
    let buyer = UserId(new_id());
    let ticket = TicketReplica {
        id: new_id(),
        title: "Seat".into(),
        price: Money::from_minor(100),
        user_id: new_id(),
        version: 0,
        deleted: false,
        event_id: None,
    };
    let own = TicketReplica {
        user_id: buyer.get(),
        ..ticket.clone()
    };
    let busy = LineGate {
        ticket_id: ticket.id,
        version: 1,
        waiting: 1,
        turn: None,
    };
    let now = later(0);
    assert_eq!(refusal(buyer, &ticket, false, None, now), None);
    assert_eq!(
        refusal(buyer, &own, true, Some(&busy), now),
        Some(OWN_TICKET)
    );
    assert_eq!(
        refusal(buyer, &ticket, true, Some(&busy), now),
        Some(ALREADY_RESERVED),
        "a held ticket is reserved, whatever its line"
    );
    assert_eq!(
        refusal(buyer, &ticket, false, Some(&busy), now),
        Some(NEXT_IN_LINE)
    );
}
