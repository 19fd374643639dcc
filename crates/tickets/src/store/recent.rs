//! The SQLite store's copy of recently read tickets, kept in step with its commits, so that
//! a ticket page is answered without a hand-off to a SQLite connection thread (what the
//! profile blames for most of a read's cost).
//!
//! Exact for one process, which is the embedded mode's whole world: every change to a
//! ticket goes through this store's single writer, which puts the saved ticket here after
//! its commit. A read that raced a commit cannot put back an older ticket: a copy is only
//! ever replaced by one of a higher or equal version. Tickets nobody has are not
//! remembered (a fresh id must be looked up), and the copy stops growing at
//! [`CAPACITY`], after which misses simply go to the database.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use boxoffice_common::Id;

use crate::domain::Ticket;

/// Most tickets kept (a few megabytes).
pub const CAPACITY: usize = 20_000;

#[derive(Debug, Default)]
pub struct RecentTickets {
    tickets: Mutex<HashMap<Id, Ticket>>,
}

impl RecentTickets {
    /// The live ticket `id` as of the newest commit or read seen; `Some(None)` for one
    /// withdrawn, `None` when not kept.
    pub fn get(&self, id: Id) -> Option<Option<Ticket>> {
        let tickets = self.tickets.lock().unwrap_or_else(PoisonError::into_inner);
        tickets
            .get(&id)
            .map(|ticket| (!ticket.deleted).then(|| ticket.clone()))
    }

    /// Keeps `ticket`, just committed by the writer, unless a newer version is kept.
    pub fn saved(&self, ticket: &Ticket) {
        self.keep(ticket, |kept| kept.version <= ticket.version);
    }

    /// Keeps `ticket`, just read, only over an older version: a read that raced a commit
    /// of the same version (a change that did not bump it) never undoes the commit.
    pub fn read(&self, ticket: &Ticket) {
        self.keep(ticket, |kept| kept.version < ticket.version);
    }

    fn keep(&self, ticket: &Ticket, replaces: impl Fn(&Ticket) -> bool) {
        let mut tickets = self.tickets.lock().unwrap_or_else(PoisonError::into_inner);
        let full = tickets.len() >= CAPACITY;
        match tickets.get_mut(&ticket.id) {
            Some(kept) if replaces(kept) => kept.clone_from(ticket),
            Some(_) => {}
            None if !full => {
                tickets.insert(ticket.id, ticket.clone());
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use boxoffice_common::{Money, new_id};

    use super::*;
    use crate::domain::TicketStatus;

    fn ticket(version: i64, title: &str) -> Ticket {
        Ticket {
            id: new_id(),
            title: title.to_owned(),
            price: Money::from_minor(2_500),
            description: String::new(),
            user_id: new_id(),
            order_id: None,
            status: TicketStatus::Available,
            version,
            created_at: time::OffsetDateTime::now_utc(),
            event_id: None,
            serial_number: None,
            deleted: false,
        }
    }

    #[test]
    fn an_older_version_never_replaces_a_newer_one() {
        let recent = RecentTickets::default();
        let newer = ticket(3, "newer");
        recent.read(&newer);
        let mut older = ticket(2, "older");
        older.id = newer.id;
        recent.read(&older);
        recent.saved(&older);
        assert_eq!(recent.get(newer.id), Some(Some(newer.clone())));
        let mut withdrawn = newer.clone();
        withdrawn.deleted = true;
        recent.saved(&withdrawn);
        assert_eq!(
            recent.get(newer.id),
            Some(None),
            "a save of the same version wins"
        );
        recent.read(&newer);
        assert_eq!(
            recent.get(newer.id),
            Some(None),
            "a read of the same version does not undo it"
        );
        let mut newest = ticket(4, "newest");
        newest.id = newer.id;
        recent.read(&newest);
        assert_eq!(recent.get(newer.id), Some(Some(newest)));
    }

    #[test]
    fn unknown_tickets_are_not_kept() {
        assert_eq!(
            RecentTickets::default().get(boxoffice_common::new_id()),
            None
        );
    }
}
