//! The pieces every service store shares, declared once.
//!
//! A service store changes its entity through one `modify` call: record the triggering
//! event in the inbox ([`Claim`]), load the entity under a write lock, let a pure closure
//! decide ([`Decision`]), save it with the events it caused — one transaction. What came
//! of it is a [`Modified`]: the closure's refusal is one of its variants, so a store
//! answers one `anyhow::Result` and a caller matches one enum.
//!
//! Besides its own tables every store has an outbox, an inbox and a dead-letter table,
//! and must answer `/readyz`. [`Plumbing`] is that common part, implemented once per
//! database ([`SqliteDb`], `PgPool`) and handed out by each store; [`StoreProbe`] turns
//! it into a readiness check.

use std::sync::Arc;

use boxoffice_common::Id;
use sqlx::PgPool;

use crate::bus::Envelope;
use crate::db::sqlite::SqliteDb;
use crate::http::health::ReadinessProbe;
use crate::outbox::OutboxStore;
use crate::outbox::postgres::PostgresOutbox;
use crate::outbox::sqlite::SqliteOutbox;

/// The inbox entry a consumer's change is recorded under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim<'a> {
    pub consumer: &'a str,
    pub event_id: Id,
}

impl Claim<'_> {
    /// The claim for part `index` (entity `part`) of an event that changes several
    /// entities, each in a transaction of its own — the tickets of a basket order. Each
    /// part is then applied once, and a redelivery after a crash half-way applies only
    /// the parts that were not. Part 0 keeps the event's own id, so an event with one
    /// part is claimed exactly as before baskets existed; the others get an id derived
    /// from the event's and the entity's (the same on every delivery).
    pub fn part(self, index: usize, part: Id) -> Self {
        if index == 0 {
            return self;
        }
        use sha2::{Digest, Sha256};
        let digest = Sha256::new()
            .chain_update(self.event_id.as_bytes())
            .chain_update(part.as_bytes())
            .finalize();
        let mut bytes = [0_u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        Self {
            event_id: uuid::Builder::from_custom_bytes(bytes).into_uuid(),
            ..self
        }
    }
}

/// What a pure change decided about the entity it was shown.
#[derive(Debug, PartialEq)]
pub enum Decision {
    /// Save the entity and publish these events with it.
    Save(Vec<Envelope>),
    /// Leave everything as it is.
    Keep,
}

/// The one outcome of a group of one (a store's `…_all` or a handler's group called
/// with a single item); an error if the group answered nothing.
pub fn only<T>(outcomes: Vec<T>) -> anyhow::Result<T> {
    outcomes
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("a group of one gave no outcome"))
}

impl Decision {
    /// The same decision, its events carrying `request_id` (when there is one) — for a
    /// change made on behalf of an event handled in a group, outside that event's request
    /// id scope, so that what it causes still traces back to the request.
    #[must_use]
    pub fn carrying(mut self, request_id: Option<&str>) -> Self {
        if let (Self::Save(events), Some(id)) = (&mut self, request_id) {
            for event in events {
                event.request_id = Some(id.to_owned());
            }
        }
        self
    }
}

/// What a store's `modify` did with entity `T` when the change could refuse with `E`.
#[derive(Debug, PartialEq, Eq)]
pub enum Modified<T, E> {
    /// The change was saved (with its events).
    Saved(T),
    /// The change decided to keep the entity as it was.
    Unchanged(T),
    /// The claimed event had been handled before; nothing was done.
    Duplicate,
    /// No such entity.
    Missing,
    /// The change refused; nothing was written, not even the inbox claim.
    Refused(E),
}

impl<T, E> Modified<T, E> {
    /// Whether the change refused (and so wrote nothing).
    pub fn is_refused(&self) -> bool {
        matches!(self, Self::Refused(_))
    }
}

/// Applies a group of edits in the open write transaction `$tx` and commits it: the body
/// every store's `modify_all` shares. `|conn, edit| apply` is an async expression that
/// applies one edit on the transaction's connection and answers `anyhow::Result` of the
/// edit's [`Modified`] and whether it wrote to the outbox. An edit that refuses takes
/// back its own writes — the only edit by dropping the transaction, one of several by the
/// savepoint each runs in — and leaves the others be. Evaluates to `anyhow::Result` of
/// the outcomes, in order, and whether any edit wrote to the outbox.
///
/// A macro rather than a function because `apply` borrows the connection afresh for each
/// edit, which a closure cannot say of the future it returns.
#[macro_export]
macro_rules! apply_edits {
    ($tx:expr, $edits:expr, |$conn:ident, $edit:ident| $apply:expr) => {
        async {
            use ::sqlx::Acquire as _;
            let mut tx = $tx;
            let edits = $edits;
            let alone = edits.len() == 1;
            let mut outcomes = Vec::with_capacity(edits.len());
            let mut wrote = false;
            for $edit in edits {
                let (outcome, events) = if alone {
                    let $conn = &mut *tx;
                    $apply.await?
                } else {
                    let mut savepoint = tx.begin().await?;
                    let applied = {
                        let $conn = &mut *savepoint;
                        $apply.await?
                    };
                    if $crate::store::Modified::is_refused(&applied.0) {
                        savepoint.rollback().await?;
                    } else {
                        savepoint.commit().await?;
                    }
                    applied
                };
                if alone && outcome.is_refused() {
                    // Dropping the transaction takes back the claim as well.
                    return ::anyhow::Ok((vec![outcome], false));
                }
                wrote |= events;
                outcomes.push(outcome);
            }
            tx.commit().await?;
            ::anyhow::Ok((outcomes, wrote))
        }
        .await
    };
}

/// What every service store has besides its own data: its outbox, its dead letters and a
/// cheap reachability check.
#[async_trait::async_trait]
pub trait Plumbing: Send + Sync + 'static {
    /// Stores an event `consumer` gave up on, with the reason, for an operator.
    async fn park(&self, consumer: &str, event: &Envelope, reason: &str) -> anyhow::Result<()>;
    /// Events parked by `consumer`, oldest first, with their reasons.
    async fn dead_letters(&self, consumer: &str) -> anyhow::Result<Vec<(Envelope, String)>>;
    /// The store's outbox, for its relay.
    fn outbox(&self) -> Arc<dyn OutboxStore>;
    /// A trivial query, for `/readyz`.
    async fn ping(&self) -> anyhow::Result<()>;
}

#[cfg(test)]
mod tests {
    use boxoffice_common::events::ExpirationComplete;
    use boxoffice_common::new_id;

    use super::{Claim, Decision, Envelope};

    #[test]
    fn parts_of_an_event_get_distinct_stable_claims_and_the_first_keeps_the_events() {
        let claim = Claim {
            consumer: "tickets",
            event_id: new_id(),
        };
        let (a, b) = (new_id(), new_id());
        assert_eq!(claim.part(0, a), claim);
        assert_eq!(claim.part(1, b), claim.part(1, b), "stable");
        assert_ne!(claim.part(1, b).event_id, claim.event_id);
        assert_ne!(claim.part(1, b), claim.part(2, a));
        assert_eq!(claim.part(1, b).consumer, "tickets");
    }

    #[test]
    fn a_decision_made_for_a_grouped_event_carries_its_request_id() {
        let at = time::OffsetDateTime::now_utc();
        let event = Envelope::new("orders", at, &ExpirationComplete { order_id: new_id() });
        assert_eq!(event.request_id, None, "no scope here");
        let Decision::Save(events) = Decision::Save(vec![event.clone()]).carrying(Some("req-7"))
        else {
            panic!("still a save");
        };
        assert_eq!(events[0].request_id.as_deref(), Some("req-7"));
        assert_eq!(events[0].id, event.id);
        let Decision::Save(events) = Decision::Save(vec![event]).carrying(None) else {
            panic!("still a save");
        };
        assert_eq!(
            events[0].request_id, None,
            "nothing to carry, nothing changed"
        );
        assert!(matches!(
            Decision::Keep.carrying(Some("req-7")),
            Decision::Keep
        ));
    }
}

impl std::fmt::Debug for dyn Plumbing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Plumbing")
    }
}

#[async_trait::async_trait]
impl Plumbing for SqliteDb {
    async fn park(&self, consumer: &str, event: &Envelope, reason: &str) -> anyhow::Result<()> {
        crate::outbox::sqlite::park(self, consumer, event, reason).await
    }

    async fn dead_letters(&self, consumer: &str) -> anyhow::Result<Vec<(Envelope, String)>> {
        crate::outbox::sqlite::dead_letters(self, consumer).await
    }

    fn outbox(&self) -> Arc<dyn OutboxStore> {
        Arc::new(SqliteOutbox::new(self.clone()))
    }

    async fn ping(&self) -> anyhow::Result<()> {
        Ok(SqliteDb::ping(self).await?)
    }
}

#[async_trait::async_trait]
impl Plumbing for PgPool {
    async fn park(&self, consumer: &str, event: &Envelope, reason: &str) -> anyhow::Result<()> {
        crate::outbox::postgres::park(self, consumer, event, reason).await
    }

    async fn dead_letters(&self, consumer: &str) -> anyhow::Result<Vec<(Envelope, String)>> {
        crate::outbox::postgres::dead_letters(self, consumer).await
    }

    fn outbox(&self) -> Arc<dyn OutboxStore> {
        Arc::new(PostgresOutbox::new(self.clone()))
    }

    async fn ping(&self) -> anyhow::Result<()> {
        Ok(crate::db::postgres::ping(self).await?)
    }
}

/// `/readyz` check: a store answers a trivial query.
#[derive(Debug)]
pub struct StoreProbe {
    name: &'static str,
    plumbing: Arc<dyn Plumbing>,
}

impl StoreProbe {
    /// A probe reported as `name` (e.g. `orders-db`), ready for the probe list.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(name: &'static str, plumbing: Arc<dyn Plumbing>) -> Arc<dyn ReadinessProbe> {
        Arc::new(Self { name, plumbing })
    }
}

#[async_trait::async_trait]
impl ReadinessProbe for StoreProbe {
    fn name(&self) -> &str {
        self.name
    }

    async fn check(&self) -> anyhow::Result<()> {
        self.plumbing.ping().await
    }
}
