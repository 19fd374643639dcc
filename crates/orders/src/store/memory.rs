//! What the embedded store knows without asking SQLite: which tickets an order holds (a
//! copy of `ticket_holds`) and the ticket replicas it has read or written.
//!
//! During an on-sale most order attempts are for tickets someone already holds, and each
//! used to cost two SQLite reads before being refused. With this copy such an attempt is
//! refused from memory; every success is still decided by the database's primary key.
//!
//! It stays exact because this process is the only writer of its SQLite file and every
//! change to it is made here while the write transaction holds SQLite's single writer, so
//! changes reach the copy in commit order. A hold is added before its commit (an attempt
//! refused in that instant is ordered after the commit) and taken back if the commit
//! fails; a release is applied before its commit, which can only send an attempt to the
//! database. Replicas only move forward by version: a reader that loaded an older row than
//! a writer just applied cannot put it back. The distributed mode has several writers per
//! database and keeps no such copy.

use std::collections::HashMap;
use std::sync::Mutex;

use boxoffice_common::Id;

use crate::domain::TicketReplica;

#[derive(Debug, Default)]
pub(super) struct Memory {
    /// Ticket → the live or paid order holding it.
    holds: Mutex<HashMap<Id, Id>>,
    replicas: Mutex<HashMap<Id, TicketReplica>>,
}

impl Memory {
    /// A copy of `ticket_holds` as loaded at start.
    pub(super) fn with_holds(holds: impl IntoIterator<Item = (Id, Id)>) -> Self {
        Self {
            holds: Mutex::new(holds.into_iter().collect()),
            replicas: Mutex::default(),
        }
    }

    pub(super) fn hold(&self, order: Id, tickets: impl IntoIterator<Item = Id>) {
        let mut holds = self.holds.lock().unwrap_or_else(|e| e.into_inner());
        for ticket in tickets {
            holds.insert(ticket, order);
        }
    }

    /// Frees the tickets `order` holds (only those it holds: a ticket is held by one order).
    pub(super) fn release(&self, order: Id, tickets: impl IntoIterator<Item = Id>) {
        let mut holds = self.holds.lock().unwrap_or_else(|e| e.into_inner());
        for ticket in tickets {
            if holds.get(&ticket) == Some(&order) {
                holds.remove(&ticket);
            }
        }
    }

    /// Keeps `replica` unless a newer version is already known.
    pub(super) fn remember(&self, replica: &TicketReplica) {
        let mut replicas = self.replicas.lock().unwrap_or_else(|e| e.into_inner());
        match replicas.get(&replica.id) {
            Some(known) if known.version >= replica.version => {}
            _ => {
                replicas.insert(replica.id, replica.clone());
            }
        }
    }

    /// The replica of `ticket` and whether an order holds it, when the replica is known.
    pub(super) fn recall(&self, ticket: Id) -> Option<(TicketReplica, bool)> {
        let replica = self
            .replicas
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&ticket)?
            .clone();
        let held = self
            .holds
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(&ticket);
        Some((replica, held))
    }
}

#[cfg(test)]
mod tests {
    use boxoffice_common::{Money, new_id};

    use super::*;

    fn replica(id: Id, version: i64) -> TicketReplica {
        TicketReplica {
            id,
            title: format!("v{version}"),
            price: Money::from_minor(100),
            user_id: Id::nil(),
            version,
            deleted: false,
            event_id: None,
        }
    }

    #[test]
    fn a_replica_never_goes_back_to_an_older_version() {
        let memory = Memory::default();
        let ticket = new_id();
        assert!(
            memory.recall(ticket).is_none(),
            "unknown until read or written"
        );
        memory.remember(&replica(ticket, 2));
        memory.remember(&replica(ticket, 1));
        assert_eq!(memory.recall(ticket).map(|(r, _)| r.version), Some(2));
        memory.remember(&replica(ticket, 3));
        assert_eq!(memory.recall(ticket).map(|(r, _)| r.version), Some(3));
    }

    #[test]
    fn only_the_holding_order_releases_a_ticket() {
        let ticket = new_id();
        let (first, second) = (new_id(), new_id());
        let memory = Memory::with_holds([(ticket, first)]);
        memory.remember(&replica(ticket, 1));
        memory.release(second, [ticket]);
        assert_eq!(memory.recall(ticket).map(|(_, held)| held), Some(true));
        memory.release(first, [ticket]);
        assert_eq!(memory.recall(ticket).map(|(_, held)| held), Some(false));
        memory.hold(second, [ticket]);
        assert_eq!(memory.recall(ticket).map(|(_, held)| held), Some(true));
    }
}
