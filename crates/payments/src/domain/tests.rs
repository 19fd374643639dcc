//! The payment state machine, move by move.

use boxoffice_common::new_id;

use super::*;

fn payment(status: PaymentStatus) -> Payment {
    Payment {
        id: new_id(),
        order_id: new_id(),
        user_id: new_id(),
        amount: Money::from_minor(2000),
        currency: "usd".into(),
        status,
        provider_id: None,
        client_secret: None,
        failure: None,
        created_at: OffsetDateTime::UNIX_EPOCH,
    }
}

fn order(state: OrderState) -> OrderReplica {
    OrderReplica {
        id: new_id(),
        user_id: new_id(),
        amount: Money::from_minor(2000),
        state,
        version: 0,
    }
}

#[test]
fn only_the_buyer_of_an_open_order_starts_a_payment() {
    let open = order(OrderState::Open);
    let buyer = UserId(open.user_id);
    let (started, pending) =
        Payment::start(&open, buyer, "usd", OffsetDateTime::UNIX_EPOCH).expect("the buyer may pay");
    assert_eq!(started.status, PaymentStatus::Processing);
    assert_eq!((started.order_id, started.amount), (open.id, open.amount));
    assert_eq!(
        pending,
        PaymentPending {
            id: started.id,
            order_id: open.id
        }
    );
    let now = OffsetDateTime::UNIX_EPOCH;
    assert_eq!(
        Payment::start(&open, UserId(new_id()), "usd", now).map(|_| ()),
        Err(PaymentError::NotOwner)
    );
    let cancelled = order(OrderState::Cancelled);
    assert_eq!(
        Payment::start(&cancelled, UserId(cancelled.user_id), "usd", now).map(|_| ()),
        Err(PaymentError::Refused(ORDER_CANCELLED))
    );
}

#[test]
fn a_second_payment_is_refused_with_what_the_first_one_is_doing() {
    assert_eq!(
        refuse_second_payment(Some(PaymentStatus::Succeeded)),
        PaymentError::Refused(ORDER_PAID)
    );
    for active in [None, Some(PaymentStatus::Processing)] {
        assert_eq!(
            refuse_second_payment(active),
            PaymentError::Refused(PAYMENT_IN_PROGRESS)
        );
    }
}

#[test]
fn a_provider_answer_records_its_id_and_may_ask_for_authentication() {
    let mut later = payment(PaymentStatus::Processing);
    assert!(later.provider_answered("pi_1".into(), None));
    assert_eq!(later.status, PaymentStatus::Processing);
    assert_eq!(later.provider_id.as_deref(), Some("pi_1"));

    let mut action = payment(PaymentStatus::Processing);
    assert!(action.provider_answered("pi_2".into(), Some("pi_2_secret".into())));
    assert_eq!(action.status, PaymentStatus::RequiresAction);
    assert_eq!(action.client_secret.as_deref(), Some("pi_2_secret"));

    let mut settled = payment(PaymentStatus::Succeeded);
    assert!(!settled.provider_answered("pi_3".into(), None), "too late");
}

#[test]
fn money_for_an_open_order_is_kept_and_announced() {
    let mut pending = payment(PaymentStatus::RequiresAction);
    pending.failure = Some("earlier".into());
    let arrival = pending.money_arrived("pi_1".into(), Some(&order(OrderState::Open)));
    assert_eq!(
        arrival,
        Arrival::Kept(PaymentCreated {
            id: pending.id,
            order_id: pending.order_id,
            provider_id: "pi_1".into()
        })
    );
    assert_eq!(pending.status, PaymentStatus::Succeeded);
    assert_eq!(pending.failure, None);
    let mut unknown_order = payment(PaymentStatus::Processing);
    assert!(matches!(
        unknown_order.money_arrived("pi_2".into(), None),
        Arrival::Kept(_)
    ));
}

#[test]
fn late_money_is_returned_and_settled_money_left_alone() {
    for state in [OrderState::Cancelled, OrderState::Complete] {
        let mut late = payment(PaymentStatus::Processing);
        assert_eq!(
            late.money_arrived("pi_1".into(), Some(&order(state))),
            Arrival::Refund
        );
        assert_eq!(late.status, PaymentStatus::Refunding);
        assert_eq!(late.provider_id.as_deref(), Some("pi_1"));
    }
    let mut given_up = payment(PaymentStatus::Failed);
    assert_eq!(
        given_up.money_arrived("pi_2".into(), Some(&order(OrderState::Open))),
        Arrival::Refund
    );
    for status in [
        PaymentStatus::Succeeded,
        PaymentStatus::Refunding,
        PaymentStatus::Refunded,
    ] {
        let mut done = payment(status);
        assert_eq!(
            done.money_arrived("pi_3".into(), None),
            Arrival::AlreadyDone
        );
        assert_eq!(done.status, status);
    }
}

#[test]
fn only_a_waiting_payment_fails_and_it_keeps_the_provider_id_it_knew() {
    let mut waiting = payment(PaymentStatus::RequiresAction);
    waiting.provider_id = Some("pi_1".into());
    waiting.client_secret = Some("pi_1_secret".into());
    let failed = waiting.fail(None, "Your card was declined.".into());
    assert_eq!(
        failed,
        Some(PaymentFailed {
            id: waiting.id,
            order_id: waiting.order_id,
            reason: "Your card was declined.".into()
        })
    );
    assert_eq!(waiting.status, PaymentStatus::Failed);
    assert_eq!(waiting.provider_id.as_deref(), Some("pi_1"));
    assert_eq!(waiting.client_secret, None);
    assert_eq!(waiting.failure.as_deref(), Some("Your card was declined."));

    let mut succeeded = payment(PaymentStatus::Succeeded);
    assert_eq!(succeeded.fail(Some("pi_2".into()), "no".into()), None);
    assert_eq!(succeeded.status, PaymentStatus::Succeeded);
}

#[test]
fn a_refund_starts_from_kept_money_and_ends_announced_once() {
    let mut kept = payment(PaymentStatus::Succeeded);
    kept.provider_id = Some("pi_1".into());
    assert!(kept.start_refund());
    assert_eq!(kept.status, PaymentStatus::Refunding);
    assert!(!kept.start_refund(), "already refunding");
    assert_eq!(
        kept.refunded(None),
        Ok(Some(PaymentRefunded {
            id: kept.id,
            order_id: kept.order_id,
            provider_id: "pi_1".into()
        }))
    );
    assert_eq!(kept.status, PaymentStatus::Refunded);
    assert_eq!(kept.refunded(None), Ok(None), "announced once");
}

#[test]
fn a_missing_provider_id_is_an_error_not_an_empty_one() {
    let mut unnamed = payment(PaymentStatus::Refunding);
    assert_eq!(
        unnamed.charged_as(),
        Err(PaymentError::NoProviderId(unnamed.id))
    );
    assert_eq!(
        unnamed.refunded(None),
        Err(PaymentError::NoProviderId(unnamed.id))
    );
    let refunded = unnamed
        .refunded(Some("pi_from_webhook".into()))
        .expect("the provider named the charge");
    assert_eq!(
        refunded.map(|r| r.provider_id).as_deref(),
        Some("pi_from_webhook")
    );
}

#[test]
fn only_the_payer_authenticates_and_only_when_asked_to() {
    let waiting = payment(PaymentStatus::RequiresAction);
    assert_eq!(
        waiting.check_authentication_by(UserId(waiting.user_id)),
        Ok(())
    );
    assert_eq!(
        waiting.check_authentication_by(UserId(new_id())),
        Err(PaymentError::NotOwner)
    );
    let settled = payment(PaymentStatus::Succeeded);
    assert_eq!(
        settled.check_authentication_by(UserId(settled.user_id)),
        Err(PaymentError::Refused(NOTHING_TO_AUTHENTICATE))
    );
}

#[test]
fn closed_orders_refuse_payment_with_the_contracts_messages() {
    assert_eq!(order(OrderState::Open).refuse_payment(), None);
    assert_eq!(
        order(OrderState::Cancelled).refuse_payment(),
        Some(ORDER_CANCELLED)
    );
    assert_eq!(
        order(OrderState::Complete).refuse_payment(),
        Some(ORDER_PAID)
    );
}
