//! The envelope of every event (CONTRACT.md §7).

use boxoffice_common::events::EventData;
use boxoffice_common::{Id, new_id};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// `{"id", "type", "occurredAt", "source", "data"}`. The id makes consumers idempotent:
/// they record it in their inbox with the effect it caused.
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
}

impl Envelope {
    /// Wraps a payload in a new envelope with a fresh id.
    pub fn new<T: EventData>(source: &str, occurred_at: OffsetDateTime, data: &T) -> Self {
        Self {
            id: new_id(),
            kind: T::TYPE.to_owned(),
            occurred_at,
            source: source.to_owned(),
            data: serde_json::to_value(data).unwrap_or(serde_json::Value::Null),
        }
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
