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

#[cfg(test)]
mod tests {
    use super::*;

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
