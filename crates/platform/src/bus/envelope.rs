//! The envelope of every event (CONTRACT.md §7).

use boxoffice_common::events::{Event, EventData};
use boxoffice_common::{Id, new_id};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// `{"id", "type", "occurredAt", "source", "data"}`. The id makes consumers idempotent:
/// they record it in their inbox with the effect it caused. `requestId`, when present,
/// is the id of the HTTP request whose work caused the event (directly, or through the
/// events it caused): one purchase can be followed through every service's logs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    pub id: Id,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    pub source: String,
    pub data: serde_json::Value,
    /// Absent in events caused by no request (timers) and in events written before
    /// request ids travelled with them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl Envelope {
    /// Wraps a payload in a new envelope with a fresh id, carrying the current request
    /// id ([`crate::telemetry::request_id`]) if there is one.
    pub fn new<T: EventData>(source: &str, occurred_at: OffsetDateTime, data: &T) -> Self {
        Self {
            id: new_id(),
            kind: T::TYPE.to_owned(),
            occurred_at,
            source: source.to_owned(),
            data: serde_json::to_value(data).unwrap_or(serde_json::Value::Null),
            request_id: crate::telemetry::request_id::current(),
        }
    }

    /// Reads the event for a consumer to match on. A type this build does not know is
    /// [`Event::Unknown`]; a known type whose payload does not fit is an error.
    pub fn event(&self) -> anyhow::Result<Event> {
        let tagged = serde_json::json!({ "type": self.kind, "data": self.data });
        serde_json::from_value(tagged).or_else(|err| {
            // serde's `other` variant takes no content, so an unknown type with a payload
            // fails above; asked without the payload, it says whether the type is known.
            match serde_json::from_value(serde_json::json!({ "type": self.kind })) {
                Ok(Event::Unknown) => Ok(Event::Unknown),
                _ => Err(anyhow::anyhow!(
                    "malformed {} event {}: {err}",
                    self.kind,
                    self.id
                )),
            }
        })
    }

    /// Reads the payload as `T`, checking the type name first.
    pub fn data<T: EventData>(&self) -> anyhow::Result<T> {
        anyhow::ensure!(
            self.kind == T::TYPE,
            "expected {}, got {}",
            T::TYPE,
            self.kind
        );
        Ok(serde_json::from_value(self.data.clone())?)
    }
}

#[cfg(test)]
mod tests {
    use boxoffice_common::events::{Event, ExpirationComplete};

    use super::*;

    #[test]
    fn envelopes_read_as_events_and_unknown_types_are_not_errors() {
        let at = time::OffsetDateTime::now_utc();
        let order_id = new_id();
        let known = Envelope::new("expiration", at, &ExpirationComplete { order_id });
        assert_eq!(
            known.event().expect("known"),
            Event::ExpirationComplete(ExpirationComplete { order_id })
        );

        let mut unknown = known.clone();
        unknown.kind = "room:opened".to_owned();
        assert_eq!(unknown.event().expect("unknown"), Event::Unknown);

        let mut malformed = known;
        malformed.data = serde_json::json!({ "orderId": 7 });
        assert!(malformed.event().is_err());
    }

    #[tokio::test]
    async fn envelopes_carry_the_current_request_id_and_old_ones_still_read() {
        let at = time::OffsetDateTime::now_utc();
        let data = ExpirationComplete { order_id: new_id() };
        let outside = Envelope::new("expiration", at, &data);
        assert_eq!(outside.request_id, None);
        let json = serde_json::to_value(&outside).expect("json");
        assert!(json.get("requestId").is_none(), "absent, not null: {json}");

        let inside = crate::telemetry::request_id::scope(Some("req-1"), async {
            Envelope::new("expiration", at, &data)
        })
        .await;
        assert_eq!(inside.request_id.as_deref(), Some("req-1"));
        let json = serde_json::to_value(&inside).expect("json");
        assert_eq!(json["requestId"], "req-1");

        // An envelope written before the field existed.
        let mut old = json;
        old.as_object_mut().expect("object").remove("requestId");
        let read: Envelope = serde_json::from_value(old).expect("reads");
        assert_eq!(read.request_id, None);
    }
}
