//! A request to list or edit a ticket, before it is settled against the ticket it edits:
//! which fields it left out, which it cleared, which it set. `PUT` keeps what it omits,
//! so "not mentioned" and `null` mean different things here and nowhere else.

use boxoffice_common::Id;
use boxoffice_common::id::parse_id;
use boxoffice_common::money::MajorUnits;

use super::{
    EVENT_NOT_FOUND, SERIAL_INVALID, SERIAL_NEEDS_EVENT, Ticket, TicketDraft, TicketError,
};

const MAX_SERIAL_CHARS: usize = 64;

/// What a request says about an optional field: not mentioned, `null`, or a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Patch<T> {
    /// Not in the request: an edit keeps what the ticket has; a new ticket has nothing.
    #[default]
    Keep,
    /// `null`: none.
    Clear,
    Set(T),
}

/// A request to list or edit a ticket, validated field by field, before it is settled
/// against the ticket it edits ([`TicketInput::into_draft`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketInput {
    /// Title, price and description; its event fields are filled by `into_draft`.
    draft: TicketDraft,
    event_id: Patch<Id>,
    serial_number: Patch<String>,
}

impl TicketInput {
    /// Validates a request: title, price and description as [`TicketDraft::parse`], and
    /// the event fields. An `eventId` that is not an id names no event (`Event not
    /// found`); a serial number is trimmed and must be 1–64 characters. Every bad field is
    /// reported at once.
    pub fn parse<'a>(
        title: Option<&str>,
        price: Option<impl Into<MajorUnits<'a>>>,
        description: Option<&str>,
        event_id: Patch<&str>,
        serial_number: Patch<&str>,
    ) -> Result<Self, TicketError> {
        let mut problems = Vec::new();
        let draft = TicketDraft::parse(title, price, description)
            .map_err(|err| match err {
                TicketError::Invalid(found) => problems.extend(found),
                TicketError::NotOwner | TicketError::Refused(_) => {}
            })
            .ok();
        let event_id = match event_id {
            Patch::Keep => Patch::Keep,
            Patch::Clear => Patch::Clear,
            Patch::Set(text) => match parse_id(text) {
                Some(id) => Patch::Set(id),
                None => {
                    problems.push(("eventId", EVENT_NOT_FOUND.to_owned()));
                    Patch::Keep
                }
            },
        };
        let serial_number = match serial_number {
            Patch::Keep => Patch::Keep,
            Patch::Clear => Patch::Clear,
            Patch::Set(text) => {
                let serial = text.trim();
                if serial.is_empty() || serial.chars().count() > MAX_SERIAL_CHARS {
                    problems.push(("serialNumber", SERIAL_INVALID.to_owned()));
                }
                Patch::Set(serial.to_owned())
            }
        };
        // Known already when the request itself says "no event".
        if event_id == Patch::Clear && matches!(serial_number, Patch::Set(_)) {
            problems.push(("serialNumber", SERIAL_NEEDS_EVENT.to_owned()));
        }
        match draft {
            Some(draft) if problems.is_empty() => Ok(Self {
                draft,
                event_id,
                serial_number,
            }),
            _ => Err(TicketError::Invalid(problems)),
        }
    }

    /// The ticket the request asks for: a new one (`current` is `None`: nothing to keep)
    /// or an edit of `current`.
    ///
    /// * `eventId` omitted keeps the ticket's event; `null` takes the ticket off its event;
    ///   an id moves it there.
    /// * `serialNumber` omitted keeps the ticket's serial while its event stays the same,
    ///   and drops it when the event changes (a serial is only unique within one event);
    ///   `null` drops it.
    /// * A serial number without an event is refused (`serialNumber`).
    pub fn into_draft(self, current: Option<&Ticket>) -> Result<TicketDraft, TicketError> {
        let kept_event = current.and_then(|ticket| ticket.event_id);
        let event_id = match self.event_id {
            Patch::Keep => kept_event,
            Patch::Clear => None,
            Patch::Set(id) => Some(id),
        };
        let serial_number = match self.serial_number {
            Patch::Keep if event_id == kept_event => {
                current.and_then(|ticket| ticket.serial_number.clone())
            }
            Patch::Keep | Patch::Clear => None,
            Patch::Set(serial) => Some(serial),
        };
        if serial_number.is_some() && event_id.is_none() {
            return Err(TicketError::field("serialNumber", SERIAL_NEEDS_EVENT));
        }
        Ok(TicketDraft {
            event_id,
            serial_number,
            ..self.draft
        })
    }
}
