//! Tickets and the rules that change them. Pure: no I/O, no clock. Each change returns
//! the event payload it causes (`TicketCreated`, `TicketUpdated`, `TicketDeleted`); the
//! service wraps it in an envelope.
//!
//! A ticket may be for an event of the catalogue ([`event`]) and carry a serial number
//! there. A request says what it wants in a [`TicketInput`]; [`TicketInput::into_draft`]
//! settles it against the ticket being edited (an omitted `eventId` keeps the ticket's
//! event) into the concrete [`TicketDraft`] the ticket is listed or edited with. Whether
//! the event exists and has not started is the service's to ask the store; whether the
//! serial is free is the store's unique index's to decide.

pub mod event;
mod input;
#[cfg(test)]
mod tests;

pub use input::{Patch, TicketInput};

use boxoffice_common::events::{TicketCreated, TicketDeleted, TicketUpdated};
use boxoffice_common::money::{MAX_MAJOR_UNITS, MajorUnits, MoneyError};
use boxoffice_common::{Id, Money, OrderId, TicketId, UserId};
use time::OffsetDateTime;

pub const TITLE_REQUIRED: &str = "Title is required";
pub const PRICE_INVALID: &str = "Price must be greater than 0";
pub const CANNOT_EDIT_RESERVED: &str = "Cannot edit a reserved ticket";
pub const CANNOT_DELETE_RESERVED: &str = "Cannot delete a reserved ticket";
/// An `eventId` that names no event (or is no id at all).
pub const EVENT_NOT_FOUND: &str = "Event not found";
/// An `eventId` whose event starts now or started before.
pub const EVENT_STARTED: &str = "Event has already started";
/// A serial number another live ticket of the event has.
pub const TICKET_EXISTS: &str = "Ticket already exists";
/// A serial number that is not a string of 1–64 characters after trimming.
pub const SERIAL_INVALID: &str = "SerialNumber must be a string of 1 to 64 characters";
/// A serial number on a ticket that is for no event: serials are unique per event.
pub const SERIAL_NEEDS_EVENT: &str = "SerialNumber is only allowed with an eventId";

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
    /// The catalogue event the ticket is for, if any.
    pub event_id: Option<Id>,
    /// Its serial number within that event (trimmed; unique among the event's live
    /// tickets); only with an event.
    pub serial_number: Option<String>,
    /// Withdrawn by its seller. Saved like any other change (so the store needs no
    /// separate "delete" decision); from then on every read treats the ticket as gone.
    pub deleted: bool,
}

/// The seller's part of a ticket, validated and concrete: what the ticket is listed or
/// edited with. [`TicketDraft::parse`] makes one for no event; a request that names an
/// event or a serial goes through [`TicketInput`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketDraft {
    pub title: String,
    pub price: Money,
    pub description: String,
    pub event_id: Option<Id>,
    pub serial_number: Option<String>,
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

impl TicketError {
    /// One bad field.
    pub fn field(field: &'static str, message: &str) -> Self {
        Self::Invalid(vec![(field, message.to_owned())])
    }

    /// The event's unique serial index refused the ticket's serial number.
    pub fn serial_taken() -> Self {
        Self::field("serialNumber", TICKET_EXISTS)
    }
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
                event_id: None,
                serial_number: None,
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
            event_id: draft.event_id,
            serial_number: draft.serial_number,
            deleted: false,
        };
        let created = TicketCreated {
            id: ticket.id,
            version: ticket.version,
            title: ticket.title.clone(),
            price: ticket.price.minor(),
            user_id: ticket.user_id,
            event_id: ticket.event_id,
        };
        (ticket, created)
    }

    /// The seller changes title, price, description, event and serial number. Ownership
    /// is checked before the reservation, as the contract orders the errors.
    pub fn edit(&mut self, user: UserId, draft: TicketDraft) -> Result<TicketUpdated, TicketError> {
        self.check_owner(user)?;
        if self.status != TicketStatus::Available {
            return Err(TicketError::Refused(CANNOT_EDIT_RESERVED));
        }
        self.title = draft.title;
        self.price = draft.price;
        self.description = draft.description;
        self.event_id = draft.event_id;
        self.serial_number = draft.serial_number;
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
            event_id: self.event_id,
        }
    }
}
