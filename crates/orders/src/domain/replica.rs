//! What the orders service keeps of other services' state: the ticket replica (with the
//! version rule that keeps it in step) and each ticket's line. Pure.

use boxoffice_common::{Id, Money, UserId};
use time::OffsetDateTime;

/// The queue service's word on a ticket's line (`queue:line`), newest version kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineGate {
    pub ticket_id: Id,
    pub version: i64,
    /// Buyers in line, the one whose turn it is included.
    pub waiting: u64,
    /// Whose exclusive turn it is, and until when.
    pub turn: Option<(Id, OffsetDateTime)>,
}

impl LineGate {
    /// Whether `buyer` may order the ticket at `now`: anyone when nobody waits; otherwise
    /// only the buyer whose turn it is, while it lasts. Between two turns (the queue
    /// service has not yet handed the turn on) nobody may: the line comes first.
    pub fn admits(&self, buyer: UserId, now: OffsetDateTime) -> bool {
        self.waiting == 0
            || self
                .turn
                .is_some_and(|(user, until)| user == buyer.get() && now < until)
    }
}

/// The orders service's copy of a ticket, kept current by ticket events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketReplica {
    pub id: Id,
    pub title: String,
    pub price: Money,
    /// The seller.
    pub user_id: Id,
    pub version: i64,
    pub deleted: bool,
    /// The event the ticket is for, if any: its waiting room may gate orders.
    pub event_id: Option<Id>,
}

/// The queue service's word on an event's waiting room (`room:gate`), newest version kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomGate {
    pub event_id: Id,
    pub version: i64,
    /// Orders for the event's tickets need an admission while the room is open.
    pub open: bool,
    /// Most tickets one account may hold in live or paid orders for the event.
    pub per_account_limit: u32,
}

/// What to do with a versioned replica update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionCheck {
    /// It is the next version: apply it.
    Apply,
    /// Already applied or superseded: drop it.
    Stale,
    /// A version in between is missing: retry later.
    Early,
}

/// Replicas apply version n only on top of n − 1.
pub fn check_version(current: Option<i64>, incoming: i64) -> VersionCheck {
    match current {
        None if incoming == 0 => VersionCheck::Apply,
        None => VersionCheck::Early,
        Some(current) if incoming <= current => VersionCheck::Stale,
        Some(current) if incoming == current + 1 => VersionCheck::Apply,
        Some(_) => VersionCheck::Early,
    }
}

#[cfg(test)]
mod tests {
    use boxoffice_common::new_id;

    use super::*;

    #[test]
    fn versions_apply_in_order_only() {
        assert_eq!(check_version(None, 0), VersionCheck::Apply);
        assert_eq!(check_version(None, 2), VersionCheck::Early);
        assert_eq!(check_version(Some(1), 2), VersionCheck::Apply);
        assert_eq!(check_version(Some(1), 1), VersionCheck::Stale);
        assert_eq!(check_version(Some(3), 1), VersionCheck::Stale);
        assert_eq!(check_version(Some(1), 3), VersionCheck::Early);
    }

    #[test]
    fn a_line_admits_anyone_when_empty_and_only_the_turn_holder_otherwise() {
        let (first, second) = (UserId(new_id()), UserId(new_id()));
        let at = |s| OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(s);
        let mut gate = LineGate {
            ticket_id: new_id(),
            version: 1,
            waiting: 0,
            turn: None,
        };
        assert!(gate.admits(first, at(0)), "nobody waits");
        gate.waiting = 2;
        assert!(!gate.admits(first, at(0)), "between two turns nobody may");
        gate.turn = Some((first.get(), at(120)));
        assert!(gate.admits(first, at(119)));
        assert!(!gate.admits(first, at(120)), "the turn is over");
        assert!(!gate.admits(second, at(0)), "not their turn");
    }
}
