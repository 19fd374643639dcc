//! Where everything lives in Redis. All keys sit under one prefix (a deployment's, or a
//! test's own):
//!
//! * `{p}:t:{ticket}` — hash `v` (version) and `s` (the ticket's state as JSON);
//! * `{p}:l:{ticket}` — sorted set: the line, scored by a global arrival counter `{p}:seq`,
//!   so rank is place and arrival order is strict;
//! * `{p}:turns` — sorted set of tickets by the end of their running turn (ms);
//! * `{p}:in:{consumer}:{event}` — inbox entries, kept for a week;
//! * `{p}:ob` / `{p}:ob:ev` / `{p}:ob:seq` / `{p}:ob:sent` — the outbox: unsent event ids by
//!   position, their envelopes, the position counter, sent ids by time;
//! * `{p}:dead` — dead letters; `{p}:changes` — pub/sub channel of changed tickets.
//!
//! Key names span hash slots, so this targets a single Redis (or a primary with
//! replicas), not Cluster.

use boxoffice_common::Id;
use boxoffice_platform::store::Claim;
use time::OffsetDateTime;

#[derive(Debug, Clone)]
pub(super) struct Keys {
    pub(super) prefix: String,
}

impl Keys {
    pub(super) fn ticket(&self, id: Id) -> String {
        format!("{}:t:{id}", self.prefix)
    }

    pub(super) fn line(&self, id: Id) -> String {
        format!("{}:l:{id}", self.prefix)
    }

    /// The inbox entry of `claim`; without one, a key that never exists (the commit script
    /// takes a fixed list of keys).
    pub(super) fn inbox(&self, claim: Option<Claim<'_>>) -> String {
        match claim {
            Some(claim) => format!("{}:in:{}:{}", self.prefix, claim.consumer, claim.event_id),
            None => self.named("no-inbox"),
        }
    }

    pub(super) fn named(&self, name: &str) -> String {
        format!("{}:{name}", self.prefix)
    }
}

/// Times are kept as Unix milliseconds, the scores of the sorted sets.
pub(super) fn millis(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

pub(super) fn from_millis(ms: f64) -> anyhow::Result<OffsetDateTime> {
    Ok(OffsetDateTime::from_unix_timestamp_nanos(
        i128::from(ms as i64) * 1_000_000,
    )?)
}
