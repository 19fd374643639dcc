//! The test processor's records: what it did with each authorization.
//!
//! A real provider keeps these on its side (Stripe's dashboard); the test processor keeps
//! them in memory so that it can behave like one — a repeated capture or void is a no-op,
//! a voided authorization cannot be captured — and so that tests can read what happened
//! to the money ([`records`]). There is one ledger per process: provider ids are made
//! from payment ids (UUIDv7), so every test processor of a process can share it, and a
//! test reaches it without a handle into the running application. It is bounded
//! ([`CAPACITY`]): the oldest records are forgotten first, long after their payments
//! settled.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, OnceLock, PoisonError};

use boxoffice_common::Id;

/// Records kept before the oldest are forgotten.
pub const CAPACITY: usize = 100_000;

/// What the test processor did with one authorization (provider id `pi_test_…`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Record {
    /// The order paid for, when the processor was told.
    pub order_id: Option<Id>,
    /// The amount was held on the card.
    pub authorized: bool,
    /// The held amount was taken (at most once).
    pub captured: bool,
    /// The hold was released (at most once, and never after a capture).
    pub voided: bool,
    /// Captured money was returned.
    pub refunded: bool,
}

/// Why the processor refused a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the authorization was voided")]
    Voided,
    #[error("the authorization was captured")]
    Captured,
}

#[derive(Debug, Default)]
struct Ledger {
    records: HashMap<String, Record>,
    /// Insertion order, for forgetting the oldest.
    order: VecDeque<String>,
}

fn ledger() -> &'static Mutex<Ledger> {
    static LEDGER: OnceLock<Mutex<Ledger>> = OnceLock::new();
    LEDGER.get_or_init(Mutex::default)
}

fn with<T>(f: impl FnOnce(&mut Ledger) -> T) -> T {
    f(&mut ledger().lock().unwrap_or_else(PoisonError::into_inner))
}

/// What the test processor did with authorization `provider_id`, if it made it.
pub fn records(provider_id: &str) -> Option<Record> {
    with(|ledger| ledger.records.get(provider_id).copied())
}

/// The record of `provider_id`, made (and the oldest forgotten) if there was none.
fn remember<'l>(ledger: &'l mut Ledger, provider_id: &str) -> &'l mut Record {
    if !ledger.records.contains_key(provider_id) {
        if ledger.order.len() >= CAPACITY
            && let Some(oldest) = ledger.order.pop_front()
        {
            ledger.records.remove(&oldest);
        }
        ledger.order.push_back(provider_id.to_owned());
    }
    ledger.records.entry(provider_id.to_owned()).or_default()
}

/// What the test processor did for order `order_id`, one record per authorization.
pub fn records_for_order(order_id: Id) -> Vec<Record> {
    with(|ledger| {
        ledger
            .records
            .values()
            .filter(|r| r.order_id == Some(order_id))
            .copied()
            .collect()
    })
}

/// A payment for `order_id` started with the processor: held at once or, with 3-D
/// Secure, once the payer authenticated ([`authorize`]).
pub(super) fn open(provider_id: &str, order_id: Id, held: bool) {
    with(|ledger| {
        let record = remember(ledger, provider_id);
        record.order_id = Some(order_id);
        record.authorized |= held;
    });
}

/// The amount is held (again, for a retried authorization).
pub(super) fn authorize(provider_id: &str) {
    with(|ledger| remember(ledger, provider_id).authorized = true);
}

/// Applies one step to an authorization. The ledger lives in one process's memory, so an
/// authorization it has no record of was made before a restart, by another replica, or
/// forgotten for room: the test processor's ids are only ever handed out for amounts it
/// held, so it is taken as held — refusing would leave the payment's capture or void to be
/// retried forever.
fn step(
    provider_id: &str,
    f: impl FnOnce(&mut Record) -> Result<(), Refusal>,
) -> Result<(), Refusal> {
    with(|ledger| {
        let known = ledger.records.contains_key(provider_id);
        let record = remember(ledger, provider_id);
        record.authorized |= !known;
        f(record)
    })
}

pub(super) fn capture(provider_id: &str) -> Result<(), Refusal> {
    step(provider_id, |record| {
        if record.voided {
            return Err(Refusal::Voided);
        }
        record.captured = true;
        Ok(())
    })
}

pub(super) fn void(provider_id: &str) -> Result<(), Refusal> {
    step(provider_id, |record| {
        if record.captured {
            return Err(Refusal::Captured);
        }
        record.voided = true;
        Ok(())
    })
}

/// Money returned. Always a success: money the processor took without holding it first
/// (a `payment_intent.succeeded` a test sends itself) is returned as well.
pub(super) fn refund(provider_id: &str) {
    with(|ledger| {
        remember(ledger, provider_id).refunded = true;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_authorization_made_before_a_restart_can_still_be_captured_once() {
        let id = format!("pi_test_{}", boxoffice_common::new_id().simple());
        assert_eq!(
            capture(&id),
            Ok(()),
            "unknown to this process, taken as held"
        );
        assert_eq!(capture(&id), Ok(()), "a repeated capture is a no-op");
        assert_eq!(void(&id), Err(Refusal::Captured));
        let record = records(&id).expect("remembered now");
        assert!(record.authorized && record.captured && !record.voided);

        let other = format!("pi_test_{}", boxoffice_common::new_id().simple());
        assert_eq!(void(&other), Ok(()));
        assert_eq!(capture(&other), Err(Refusal::Voided));
    }
}
