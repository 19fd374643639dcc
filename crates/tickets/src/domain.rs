//! Tickets and the rules that change them. Pure: no I/O, no clock. Each change returns
//! the event payload it causes (`TicketCreated`, `TicketUpdated`, `TicketDeleted`); the
//! service wraps it in an envelope.

use boxoffice_common::events::{TicketCreated, TicketDeleted, TicketUpdated};
use boxoffice_common::money::{MAX_MAJOR_UNITS, MajorUnits, MoneyError};
use boxoffice_common::{Id, Money, OrderId, TicketId, UserId};
use time::OffsetDateTime;

pub const TITLE_REQUIRED: &str = "Title is required";
pub const PRICE_INVALID: &str = "Price must be greater than 0";
pub const CANNOT_EDIT_RESERVED: &str = "Cannot edit a reserved ticket";
pub const CANNOT_DELETE_RESERVED: &str = "Cannot delete a reserved ticket";

const MAX_TITLE_CHARS: usize = 200;
const MAX_DESCRIPTION_CHARS: usize = 5000;

/// Where a ticket stands. Reservation is driven by the orders service's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketStatus {
    Available,
    Reserved,
    Sold,
}

impl TicketStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Available => "available",
            Self::Reserved => "reserved",
            Self::Sold => "sold",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "available" => Some(Self::Available),
            "reserved" => Some(Self::Reserved),
            "sold" => Some(Self::Sold),
            _ => None,
        }
    }
}

/// A ticket listed for sale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub id: Id,
    pub title: String,
    pub price: Money,
    pub description: String,
    /// The seller.
    pub user_id: Id,
    /// The order holding or having bought the ticket.
    pub order_id: Option<Id>,
    pub status: TicketStatus,
    /// Bumped by every change; replicas apply changes in this order.
    pub version: i64,
    pub created_at: OffsetDateTime,
    /// Withdrawn by its seller. Saved like any other change (so the store needs no
    /// separate "delete" decision); from then on every read treats the ticket as gone.
    pub deleted: bool,
}

/// The seller's part of a ticket, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketDraft {
    pub title: String,
    pub price: Money,
    pub description: String,
}

/// A rule a request broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    /// `(field, message)` for every bad field.
    #[error("invalid ticket")]
    Invalid(Vec<(&'static str, String)>),
    #[error("not the owner")]
    NotOwner,
    #[error("{0}")]
    Refused(&'static str),
}

impl TicketDraft {
    /// Validates what a seller sent. `price` is in major units, a number or a decimal
    /// string (see [`MajorUnits`]); a missing one is refused as not greater than 0.
    pub fn parse<'a>(
        title: Option<&str>,
        price: Option<impl Into<MajorUnits<'a>>>,
        description: Option<&str>,
    ) -> Result<Self, TicketError> {
        let mut problems = Vec::new();
        let title = title.map(str::trim).unwrap_or_default();
        if title.is_empty() || title.chars().count() > MAX_TITLE_CHARS {
            problems.push(("title", TITLE_REQUIRED.to_owned()));
        }
        let price = match price.map(|price| price.into().to_money()) {
            Some(Ok(price)) => Some(price),
            Some(Err(MoneyError::TooPrecise)) => {
                problems.push(("price", "Price must have at most 2 decimals".to_owned()));
                None
            }
            Some(Err(MoneyError::TooLarge)) => {
                problems.push(("price", format!("Price must be at most {MAX_MAJOR_UNITS}")));
                None
            }
            _ => {
                problems.push(("price", PRICE_INVALID.to_owned()));
                None
            }
        };
        let description = description.map(str::trim).unwrap_or_default();
        if description.chars().count() > MAX_DESCRIPTION_CHARS {
            problems.push((
                "description",
                format!("Description must be at most {MAX_DESCRIPTION_CHARS} characters"),
            ));
        }
        match price {
            Some(price) if problems.is_empty() => Ok(Self {
                title: title.to_owned(),
                price,
                description: description.to_owned(),
            }),
            _ => Err(TicketError::Invalid(problems)),
        }
    }
}

impl Ticket {
    /// A new listing, version 0, and the `ticket:created` payload announcing it.
    pub fn list(
        id: TicketId,
        seller: UserId,
        draft: TicketDraft,
        now: OffsetDateTime,
    ) -> (Self, TicketCreated) {
        let ticket = Self {
            id: id.get(),
            title: draft.title,
            price: draft.price,
            description: draft.description,
            user_id: seller.get(),
            order_id: None,
            status: TicketStatus::Available,
            version: 0,
            created_at: now,
            deleted: false,
        };
        let created = TicketCreated {
            id: ticket.id,
            version: ticket.version,
            title: ticket.title.clone(),
            price: ticket.price.minor(),
            user_id: ticket.user_id,
        };
        (ticket, created)
    }

    /// The seller changes title, price and description. Ownership is checked before the
    /// reservation, as the contract orders the errors.
    pub fn edit(&mut self, user: UserId, draft: TicketDraft) -> Result<TicketUpdated, TicketError> {
        self.check_owner(user)?;
        if self.status != TicketStatus::Available {
            return Err(TicketError::Refused(CANNOT_EDIT_RESERVED));
        }
        self.title = draft.title;
        self.price = draft.price;
        self.description = draft.description;
        self.version += 1;
        Ok(self.updated_event())
    }

    /// The seller withdraws the listing: marked deleted, version bumped for the event.
    pub fn withdraw(&mut self, user: UserId) -> Result<TicketDeleted, TicketError> {
        self.check_owner(user)?;
        if self.status != TicketStatus::Available {
            return Err(TicketError::Refused(CANNOT_DELETE_RESERVED));
        }
        self.version += 1;
        self.deleted = true;
        Ok(TicketDeleted {
            id: self.id,
            version: self.version,
        })
    }

    /// An order now holds the ticket. `None` when nothing changes (already held by it,
    /// or sold). The orders service decides who may hold a ticket, so a newer order
    /// replaces a holder whose cancellation has not arrived yet.
    pub fn reserve(&mut self, order: OrderId) -> Option<TicketUpdated> {
        if self.status == TicketStatus::Sold || self.order_id == Some(order.get()) {
            return None;
        }
        self.order_id = Some(order.get());
        self.status = TicketStatus::Reserved;
        self.version += 1;
        Some(self.updated_event())
    }

    /// The order's hold ended. Only the holding order can free the ticket: a late
    /// cancellation of an older order changes nothing (`None`).
    pub fn release(&mut self, order: OrderId) -> Option<TicketUpdated> {
        if self.status != TicketStatus::Reserved || self.order_id != Some(order.get()) {
            return None;
        }
        self.order_id = None;
        self.status = TicketStatus::Available;
        self.version += 1;
        Some(self.updated_event())
    }

    /// The order was paid: the ticket is sold for good. `None` if it already was.
    pub fn sell(&mut self, order: OrderId) -> Option<TicketUpdated> {
        if self.status == TicketStatus::Sold {
            return None;
        }
        self.order_id = Some(order.get());
        self.status = TicketStatus::Sold;
        self.version += 1;
        Some(self.updated_event())
    }

    fn check_owner(&self, user: UserId) -> Result<(), TicketError> {
        if self.user_id == user.get() {
            Ok(())
        } else {
            Err(TicketError::NotOwner)
        }
    }

    /// The `ticket:updated` payload describing the ticket as it is now.
    fn updated_event(&self) -> TicketUpdated {
        TicketUpdated {
            id: self.id,
            version: self.version,
            title: self.title.clone(),
            price: self.price.minor(),
            user_id: self.user_id,
            order_id: self.order_id,
        }
    }
}

#[cfg(test)]
mod tests {
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
}
