//! The ticket rules, case by case.

use boxoffice_common::new_id;

use super::*;

fn order() -> OrderId {
    OrderId(new_id())
}

fn draft(title: &str, price: f64) -> TicketDraft {
    TicketDraft::parse(Some(title), Some(price), None).expect("valid draft")
}

fn ticket() -> (Ticket, UserId) {
    let seller = UserId(new_id());
    let (ticket, created) = Ticket::list(
        TicketId(new_id()),
        seller,
        draft("Concert", 20.0),
        OffsetDateTime::UNIX_EPOCH,
    );
    assert_eq!((created.id, created.version), (ticket.id, 0));
    (ticket, seller)
}

#[test]
fn a_withdrawn_ticket_is_marked_deleted_and_announced() {
    let (mut ticket, seller) = ticket();
    let deleted = ticket.withdraw(seller).expect("withdraw");
    assert!(ticket.deleted);
    assert_eq!((deleted.id, deleted.version), (ticket.id, 1));
}

#[test]
fn drafts_report_every_bad_field() {
    let err = TicketDraft::parse(Some("   "), Some(0.0), None).expect_err("invalid");
    assert_eq!(
        err,
        TicketError::Invalid(vec![
            ("title", TITLE_REQUIRED.to_owned()),
            ("price", PRICE_INVALID.to_owned())
        ])
    );
    assert!(TicketDraft::parse(Some(&"x".repeat(201)), Some(1.0), None).is_err());
    assert!(TicketDraft::parse(Some("ok"), None::<f64>, None).is_err());
    assert!(TicketDraft::parse(Some("ok"), Some(1.005), None).is_err());
    assert_eq!(draft(" Concert ", 12.5).price, Money::from_minor(1250));
}

#[test]
fn a_decimal_string_price_follows_the_number_rules() {
    let price = |input: MajorUnits<'_>| {
        TicketDraft::parse(Some("ok"), Some(input), None).map(|draft| draft.price.minor())
    };
    assert_eq!(price("20.00".into()), Ok(2000));
    for (text, number) in [
        ("0", 0.0),
        ("-1", -1.0),
        ("5.001", 5.001),
        ("1000001", 1e6 + 1.0),
    ] {
        assert_eq!(price(text.into()), price(number.into()), "{text}");
    }
    for text in ["abc", "1e3", " 5", "", "+5"] {
        assert_eq!(
            price(text.into()),
            Err(TicketError::Invalid(vec![(
                "price",
                PRICE_INVALID.to_owned()
            )])),
            "{text:?}"
        );
    }
}

#[test]
fn only_the_owner_edits_and_only_while_available() {
    let (mut ticket, seller) = ticket();
    assert_eq!(
        ticket.edit(UserId(new_id()), draft("Other", 1.0)),
        Err(TicketError::NotOwner)
    );
    let updated = ticket.edit(seller, draft("Renamed", 30.0)).expect("edit");
    assert_eq!((ticket.title.as_str(), ticket.version), ("Renamed", 1));
    assert_eq!((updated.title.as_str(), updated.version), ("Renamed", 1));

    assert!(ticket.reserve(order()).is_some());
    assert_eq!(
        ticket.edit(seller, draft("Again", 1.0)),
        Err(TicketError::Refused(CANNOT_EDIT_RESERVED))
    );
    // Ownership is checked first.
    assert_eq!(
        ticket.edit(UserId(new_id()), draft("Again", 1.0)),
        Err(TicketError::NotOwner)
    );
    assert_eq!(
        ticket.withdraw(seller),
        Err(TicketError::Refused(CANNOT_DELETE_RESERVED))
    );
}

#[test]
fn a_stale_release_never_frees_a_newer_hold() {
    let (mut ticket, _) = ticket();
    let (old, new) = (order(), order());
    assert!(ticket.reserve(old).is_some());
    assert!(ticket.reserve(new).is_some(), "the newer order takes over");
    assert!(
        ticket.release(old).is_none(),
        "the old order's cancellation is stale"
    );
    assert_eq!(ticket.order_id, Some(new.get()));
    let released = ticket.release(new).expect("the holder frees it");
    assert_eq!(released.order_id, None);
    assert_eq!(
        (ticket.status, ticket.order_id),
        (TicketStatus::Available, None)
    );
}

#[test]
fn a_sold_ticket_stays_sold() {
    let (mut ticket, seller) = ticket();
    let paid = order();
    assert!(ticket.reserve(paid).is_some());
    assert!(ticket.sell(paid).is_some());
    assert!(ticket.release(paid).is_none());
    assert!(ticket.reserve(order()).is_none());
    assert_eq!(ticket.status, TicketStatus::Sold);
    assert!(ticket.edit(seller, draft("x", 1.0)).is_err());
    assert!(ticket.withdraw(seller).is_err());
}

#[test]
fn redelivered_reservations_change_nothing() {
    let (mut ticket, _) = ticket();
    let held = order();
    assert!(ticket.reserve(held).is_some());
    let version = ticket.version;
    assert!(ticket.reserve(held).is_none());
    assert_eq!(ticket.version, version);
}

fn input(event_id: Patch<&str>, serial: Patch<&str>) -> Result<TicketInput, TicketError> {
    TicketInput::parse(Some("Seat"), Some(10.0), None, event_id, serial)
}

#[test]
fn event_fields_are_validated_with_the_rest() {
    let err = TicketInput::parse(
        Some(""),
        Some(10.0),
        None,
        Patch::Set("not-an-id"),
        Patch::Set(&"s".repeat(65)),
    )
    .expect_err("invalid");
    assert_eq!(
        err,
        TicketError::Invalid(vec![
            ("title", TITLE_REQUIRED.to_owned()),
            ("eventId", EVENT_NOT_FOUND.to_owned()),
            ("serialNumber", SERIAL_INVALID.to_owned()),
        ])
    );
    assert_eq!(
        input(Patch::Keep, Patch::Set("   ")),
        Err(TicketError::field("serialNumber", SERIAL_INVALID))
    );
    assert_eq!(
        input(Patch::Clear, Patch::Set("A1")),
        Err(TicketError::field("serialNumber", SERIAL_NEEDS_EVENT))
    );
}

#[test]
fn a_new_ticket_has_the_event_and_serial_it_names_and_a_serial_needs_an_event() {
    let event = new_id().to_string();
    let draft = input(Patch::Set(&event), Patch::Set(" A-12 "))
        .and_then(|input| input.into_draft(None))
        .expect("valid");
    assert_eq!(draft.event_id.map(|id| id.to_string()), Some(event));
    assert_eq!(draft.serial_number.as_deref(), Some("A-12"));
    let none = input(Patch::Keep, Patch::Keep)
        .and_then(|input| input.into_draft(None))
        .expect("valid");
    assert_eq!((none.event_id, none.serial_number), (None, None));
    assert_eq!(
        input(Patch::Keep, Patch::Set("A1")).and_then(|input| input.into_draft(None)),
        Err(TicketError::field("serialNumber", SERIAL_NEEDS_EVENT))
    );
}

#[test]
fn an_edit_keeps_what_it_omits_and_a_new_event_drops_the_old_serial() {
    let (mut ticket, _) = ticket();
    let (event, other) = (new_id(), new_id());
    ticket.event_id = Some(event);
    ticket.serial_number = Some("A1".into());
    let settle = |event_id: Patch<&str>, serial: Patch<&str>| {
        let draft = input(event_id, serial)
            .and_then(|input| input.into_draft(Some(&ticket)))
            .expect("valid");
        (draft.event_id, draft.serial_number)
    };
    let (event_text, other_text) = (event.to_string(), other.to_string());
    assert_eq!(
        settle(Patch::Keep, Patch::Keep),
        (Some(event), Some("A1".into()))
    );
    assert_eq!(
        settle(Patch::Set(&event_text), Patch::Keep),
        (Some(event), Some("A1".into()))
    );
    assert_eq!(
        settle(Patch::Keep, Patch::Set("B2")),
        (Some(event), Some("B2".into()))
    );
    assert_eq!(settle(Patch::Keep, Patch::Clear), (Some(event), None));
    assert_eq!(
        settle(Patch::Set(&other_text), Patch::Keep),
        (Some(other), None)
    );
    assert_eq!(settle(Patch::Clear, Patch::Keep), (None, None));
}
