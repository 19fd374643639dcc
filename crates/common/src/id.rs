//! Identifiers.
//!
//! Every id in the API is the text form of a UUIDv7: time-ordered (so primary-key indexes
//! stay append-mostly) and unguessable enough not to leak counts the way serial ids do.

use uuid::Uuid;

/// An entity id. Kept as a `Uuid` internally; rendered as lower-case hyphenated text.
pub type Id = Uuid;

/// A fresh, time-ordered id.
pub fn new_id() -> Id {
    Uuid::now_v7()
}

/// Parses an id taken from a URL path or a request body.
///
/// Returns `None` for anything that is not a UUID, so that callers can answer
/// "Not found" for malformed ids, as the contract asks, rather than a parse error.
pub fn parse_id(text: &str) -> Option<Id> {
    Uuid::try_parse(text).ok()
}

/// Ids of different things get different types where two of them travel side by side
/// (`place(buyer, ticket)`), so the compiler catches a swap. On the wire and in the
/// databases each is the plain UUID text.
macro_rules! typed_ids {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Id);

        impl $name {
            /// The plain id, for storage and events.
            pub fn get(self) -> Id {
                self.0
            }
        }

        impl From<Id> for $name {
            fn from(id: Id) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Id {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}

typed_ids!(
    /// A signed-up user: a buyer, a seller, someone in a line.
    UserId,
    /// A listed ticket.
    TicketId,
    /// An order for a ticket.
    OrderId,
    /// A payment for an order.
    PaymentId,
);

/// How old the id's UUIDv7 timestamp says it is, measured against `now`; `None` for an
/// id that is not a v7 (it carries no time). Lets a replica tell a fresh id it may not
/// have heard of yet from an old or made-up one.
pub fn age_of(id: Id, now: time::OffsetDateTime) -> Option<time::Duration> {
    let (seconds, nanos) = id.get_timestamp()?.to_unix();
    let created = time::OffsetDateTime::from_unix_timestamp(i64::try_from(seconds).ok()?).ok()?
        + time::Duration::nanoseconds(i64::from(nanos));
    Some(now - created)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_v7_id_knows_its_age_and_other_ids_do_not() {
        let id = new_id();
        let later = time::OffsetDateTime::now_utc() + time::Duration::seconds(3);
        let age = age_of(id, later).expect("a v7 id has a time");
        assert!(age >= time::Duration::seconds(2) && age <= time::Duration::seconds(4));
        assert_eq!(age_of(Uuid::nil(), later), None);
        assert_eq!(
            age_of(
                Uuid::from_u128(0x1234_5678_9abc_4def_8123_4567_89ab_cdef),
                later
            ),
            None
        );
    }

    #[test]
    fn typed_ids_print_and_convert_as_the_plain_id() {
        let id = new_id();
        let user = UserId::from(id);
        assert_eq!(user.to_string(), id.to_string());
        assert_eq!(Id::from(user), id);
    }

    #[test]
    fn ids_round_trip_through_text() {
        let id = new_id();
        assert_eq!(parse_id(&id.to_string()), Some(id));
    }

    #[test]
    fn malformed_ids_are_rejected() {
        assert_eq!(parse_id("not-an-id"), None);
        assert_eq!(parse_id(""), None);
    }

    #[test]
    fn ids_are_time_ordered() {
        let first = new_id();
        let second = new_id();
        assert!(first < second);
    }
}
