//! Events of the catalogue (CONTRACT.md §11) — a concert, a match: what tickets are for.
//! Pure, like the ticket rules: no I/O, and the clock's reading is passed in.
//!
//! Called [`CatalogueEvent`] throughout, because `Event` is already the name of the bus's
//! messages (`boxoffice_common::events::Event`), and the two meet in this crate.
//!
//! An event is the same event whatever the spelling of its name and venue's case and
//! surrounding spaces, and whatever offset its start was written with: [`dedup_key`] and
//! a start kept in UTC are what the store's unique index compares.

use boxoffice_common::events::{EventCreated, EventDetails, EventUpdated};
use boxoffice_common::{Id, Money, UserId};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub const NAME_REQUIRED: &str = "Name is required";
pub const VENUE_REQUIRED: &str = "Venue is required";
pub const STARTS_AT_INVALID: &str = "StartsAt must be a future date";
/// An edit that would make the event another one's duplicate (same name, venue, start).
pub const EVENT_EXISTS: &str = "Event already exists";

const MAX_NAME_CHARS: usize = 200;
const MAX_VENUE_CHARS: usize = 200;
const MAX_DESCRIPTION_CHARS: usize = 5000;

/// The id of a catalogue event, kept apart from ticket and user ids where they travel
/// together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CatalogueEventId(pub Id);

impl CatalogueEventId {
    /// The plain id, for storage and events.
    pub fn get(self) -> Id {
        self.0
    }
}

/// An event tickets are listed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueEvent {
    pub id: Id,
    /// Trimmed, as the creator wrote it.
    pub name: String,
    /// Trimmed, as the creator wrote it.
    pub venue: String,
    /// In UTC, at whole microseconds (what both databases keep).
    pub starts_at: OffsetDateTime,
    pub description: String,
    /// Its creator, who alone may change it.
    pub user_id: Id,
    /// Bumped by every change.
    pub version: i64,
    pub created_at: OffsetDateTime,
}

/// An event as the catalogue shows it: with what is on sale for it right now, counted at
/// read time from the tickets themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventListing {
    pub event: CatalogueEvent,
    /// Tickets of the event that are available and not withdrawn.
    pub tickets_available: u64,
    /// The cheapest of those; `None` when there are none.
    pub min_price: Option<Money>,
}

impl EventListing {
    /// A listing with nothing on sale yet, as a new event has.
    pub fn empty(event: CatalogueEvent) -> Self {
        Self {
            event,
            tickets_available: 0,
            min_price: None,
        }
    }
}

/// The creator's part of an event, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueEventDraft {
    pub name: String,
    pub venue: String,
    pub starts_at: OffsetDateTime,
    pub description: String,
}

/// A rule a request about an event broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogueEventError {
    /// `(field, message)` for every bad field.
    #[error("invalid event")]
    Invalid(Vec<(&'static str, String)>),
    #[error("not the creator")]
    NotCreator,
}

impl CatalogueEventError {
    /// The store's unique index found another event with the same name, venue and start.
    pub fn exists() -> Self {
        Self::Invalid(vec![("name", EVENT_EXISTS.to_owned())])
    }
}

/// Name and venue as the duplicate check compares them: trimmed, lower-cased (Unicode,
/// by Rust, so both databases store the same key).
pub fn dedup_key(text: &str) -> String {
    text.trim().to_lowercase()
}

/// `text` as an RFC 3339 instant in UTC, cut to whole microseconds — PostgreSQL keeps no
/// more, and the duplicate check must compare the same instant on both databases.
pub fn parse_instant(text: &str) -> Option<OffsetDateTime> {
    let at = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    Some(whole_micros(at))
}

/// `at` in UTC, cut to whole microseconds: what both databases give back, so an event
/// answered at once reads the same as it will later.
fn whole_micros(at: OffsetDateTime) -> OffsetDateTime {
    let at = at.to_offset(time::UtcOffset::UTC);
    at - time::Duration::nanoseconds(i64::from(at.nanosecond() % 1_000))
}

impl CatalogueEventDraft {
    /// Validates what a creator sent. `starts_at` must be RFC 3339 and after `now`;
    /// every bad field is reported at once.
    pub fn parse(
        name: Option<&str>,
        venue: Option<&str>,
        starts_at: Option<&str>,
        description: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Self, CatalogueEventError> {
        let mut problems = Vec::new();
        let name = name.map(str::trim).unwrap_or_default();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            problems.push(("name", NAME_REQUIRED.to_owned()));
        }
        let venue = venue.map(str::trim).unwrap_or_default();
        if venue.is_empty() || venue.chars().count() > MAX_VENUE_CHARS {
            problems.push(("venue", VENUE_REQUIRED.to_owned()));
        }
        let starts_at = starts_at.and_then(parse_instant).filter(|at| *at > now);
        if starts_at.is_none() {
            problems.push(("startsAt", STARTS_AT_INVALID.to_owned()));
        }
        let description = description.map(str::trim).unwrap_or_default();
        if description.chars().count() > MAX_DESCRIPTION_CHARS {
            problems.push((
                "description",
                format!("Description must be at most {MAX_DESCRIPTION_CHARS} characters"),
            ));
        }
        match starts_at {
            Some(starts_at) if problems.is_empty() => Ok(Self {
                name: name.to_owned(),
                venue: venue.to_owned(),
                starts_at,
                description: description.to_owned(),
            }),
            _ => Err(CatalogueEventError::Invalid(problems)),
        }
    }
}

impl CatalogueEvent {
    /// A new event, version 0, and the `event:created` payload announcing it.
    pub fn create(
        id: CatalogueEventId,
        creator: UserId,
        draft: CatalogueEventDraft,
        now: OffsetDateTime,
    ) -> (Self, EventCreated) {
        let event = Self {
            id: id.get(),
            name: draft.name,
            venue: draft.venue,
            starts_at: draft.starts_at,
            description: draft.description,
            user_id: creator.get(),
            version: 0,
            created_at: whole_micros(now),
        };
        let created = EventCreated(event.details());
        (event, created)
    }

    /// The creator changes name, venue, start and description; version + 1.
    pub fn edit(
        &mut self,
        user: UserId,
        draft: CatalogueEventDraft,
    ) -> Result<EventUpdated, CatalogueEventError> {
        self.check_creator(user)?;
        self.name = draft.name;
        self.venue = draft.venue;
        self.starts_at = draft.starts_at;
        self.description = draft.description;
        self.version += 1;
        Ok(EventUpdated(self.details()))
    }

    /// Only the creator may change the event.
    pub fn check_creator(&self, user: UserId) -> Result<(), CatalogueEventError> {
        if self.user_id == user.get() {
            Ok(())
        } else {
            Err(CatalogueEventError::NotCreator)
        }
    }

    /// Whether the event has begun at `now`: tickets can no longer be listed for it, and
    /// the catalogue no longer shows it.
    pub fn has_started(&self, now: OffsetDateTime) -> bool {
        self.starts_at <= now
    }

    /// [`dedup_key`] of the name.
    pub fn name_key(&self) -> String {
        dedup_key(&self.name)
    }

    /// [`dedup_key`] of the venue.
    pub fn venue_key(&self) -> String {
        dedup_key(&self.venue)
    }

    fn details(&self) -> EventDetails {
        EventDetails {
            id: self.id,
            version: self.version,
            name: self.name.clone(),
            venue: self.venue.clone(),
            starts_at: self.starts_at,
            user_id: self.user_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use boxoffice_common::new_id;
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2030-01-01 12:00 UTC);

    fn draft(name: &str, starts_at: &str) -> Result<CatalogueEventDraft, CatalogueEventError> {
        CatalogueEventDraft::parse(Some(name), Some("Arena"), Some(starts_at), None, NOW)
    }

    #[test]
    fn every_bad_field_is_reported_with_its_message() {
        let err =
            CatalogueEventDraft::parse(Some("  "), None, None, None, NOW).expect_err("invalid");
        assert_eq!(
            err,
            CatalogueEventError::Invalid(vec![
                ("name", NAME_REQUIRED.to_owned()),
                ("venue", VENUE_REQUIRED.to_owned()),
                ("startsAt", STARTS_AT_INVALID.to_owned()),
            ])
        );
        for starts_at in ["tomorrow", "2030-01-01T12:00:00Z", "2029-12-31T23:00:00Z"] {
            assert!(draft("Concert", starts_at).is_err(), "{starts_at}");
        }
        assert!(draft(&"x".repeat(201), "2031-01-01T00:00:00Z").is_err());
        let long = "d".repeat(5001);
        let err = CatalogueEventDraft::parse(
            Some("ok"),
            Some("ok"),
            Some("2031-01-01T00:00:00Z"),
            Some(&long),
            NOW,
        );
        assert!(matches!(err, Err(CatalogueEventError::Invalid(ref p)) if p[0].0 == "description"));
    }

    #[test]
    fn starts_are_instants_in_utc_at_whole_microseconds() {
        let a = draft(" Concert ", "2031-06-01T20:00:00+02:00").expect("valid");
        let b = draft("concert", "2031-06-01T18:00:00.000000400Z").expect("valid");
        assert_eq!(a.starts_at, b.starts_at);
        assert_eq!(a.starts_at.offset(), time::UtcOffset::UTC);
        assert_eq!(a.name, "Concert");
        assert_eq!(dedup_key(&a.name), dedup_key("  CONCERT"));
    }

    #[test]
    fn only_the_creator_edits_and_each_edit_is_a_version() {
        let creator = UserId(new_id());
        let first = draft("Concert", "2031-01-01T00:00:00Z").expect("valid");
        let now = NOW + time::Duration::nanoseconds(1_234_567);
        let (mut event, created) =
            CatalogueEvent::create(CatalogueEventId(new_id()), creator, first, now);
        assert_eq!((created.0.id, created.0.version), (event.id, 0));
        assert_eq!(event.created_at, NOW + time::Duration::microseconds(1_234));
        let renamed = draft("Gala", "2031-01-02T00:00:00Z").expect("valid");
        assert_eq!(
            event.edit(UserId(new_id()), renamed.clone()),
            Err(CatalogueEventError::NotCreator)
        );
        let updated = event.edit(creator, renamed).expect("edit");
        assert_eq!((updated.0.name.as_str(), updated.0.version), ("Gala", 1));
        assert!(!event.has_started(NOW));
        assert!(event.has_started(datetime!(2031-01-02 00:00 UTC)));
    }
}
