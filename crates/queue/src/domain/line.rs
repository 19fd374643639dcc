//! One ticket's line as a rule sees and changes it: only its front, its length and the
//! acting buyer's place are loaded, so a change costs the same for a line of three or of
//! thirty thousand. The rule's edits are recorded as [`LineOp`]s for the store to replay.

use std::collections::VecDeque;

use boxoffice_common::Id;
use boxoffice_common::events::{QueueLine, QueueTurn};

use super::TicketState;

/// How many members at the front of a line a store loads: enough for any rule, which
/// removes at most one member and then needs to know the new head.
pub const FRONT: usize = 3;
/// A change to the line itself, applied by the store in the order recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineOp {
    /// Append at the back (strict arrival order).
    Push(Id),
    Remove(Id),
    Clear,
}
/// One ticket's line as a rule sees it while changing it.
#[derive(Debug, Clone)]
pub struct Line {
    pub state: TicketState,
    before: TicketState,
    /// The first members, in order (all of them when the line is short).
    front: VecDeque<Id>,
    len: u64,
    /// The buyer acting, and their 1-based place if they wait in this line.
    actor: Option<(Id, Option<u64>)>,
    len_before: u64,
    ops: Vec<LineOp>,
}

impl Line {
    /// A line as loaded by a store. `front` holds the first `min(len, FRONT)` members.
    pub fn loaded(
        state: TicketState,
        front: Vec<Id>,
        len: u64,
        actor: Option<(Id, Option<u64>)>,
    ) -> Self {
        Self {
            before: state.clone(),
            state,
            front: front.into(),
            len,
            actor,
            len_before: len,
            ops: Vec::new(),
        }
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn head(&self) -> Option<Id> {
        self.front.front().copied()
    }

    /// The acting buyer's 1-based place, if they wait in this line.
    pub fn actor_position(&self) -> Option<u64> {
        self.actor.and_then(|(_, position)| position)
    }

    pub(super) fn actor_id(&self) -> Option<Id> {
        self.actor.map(|(id, _)| id)
    }

    /// The place of `user` if it can be known from what was loaded.
    fn position_of(&self, user: Id) -> Option<u64> {
        if self.actor_id() == Some(user) {
            return self.actor_position();
        }
        self.front
            .iter()
            .position(|member| *member == user)
            .map(|index| index as u64 + 1)
    }

    /// Appends the acting buyer at the back.
    pub(super) fn push_actor(&mut self) {
        let Some((user, None)) = self.actor else {
            return;
        };
        if self.front.len() as u64 == self.len && self.front.len() < FRONT {
            self.front.push_back(user);
        }
        self.len += 1;
        self.actor = Some((user, Some(self.len)));
        self.ops.push(LineOp::Push(user));
    }

    /// Removes `user` if they wait here (their place must be known: the actor or a front member).
    pub(super) fn remove(&mut self, user: Id) {
        let Some(position) = self.position_of(user) else {
            return;
        };
        self.front.retain(|member| *member != user);
        self.len -= 1;
        if let Some((actor, Some(actor_position))) = self.actor {
            self.actor = if actor == user {
                Some((actor, None))
            } else if actor_position > position {
                Some((actor, Some(actor_position - 1)))
            } else {
                self.actor
            };
        }
        self.ops.push(LineOp::Remove(user));
    }

    pub(super) fn clear(&mut self) {
        if self.len == 0 {
            return;
        }
        self.front.clear();
        self.len = 0;
        if let Some((actor, _)) = self.actor {
            self.actor = Some((actor, None));
        }
        self.ops.push(LineOp::Clear);
    }

    /// Whether the rule changed anything that must be saved.
    pub fn changed(&self) -> bool {
        !self.ops.is_empty() || self.state != self.before
    }

    /// The version the store loaded (for compare-and-set stores).
    pub fn loaded_version(&self) -> i64 {
        self.before.version
    }

    pub fn ops(&self) -> &[LineOp] {
        &self.ops
    }

    /// Ends a change: bumps the version and, when what the orders service enforces
    /// (whether anyone waits, whose turn it is) moved, returns the `queue:line` payload.
    pub fn finish(&mut self, ticket_id: Id) -> Option<QueueLine> {
        if !self.changed() {
            return None;
        }
        self.state.version = self.before.version + 1;
        let gate_moved =
            (self.len > 0) != (self.len_before > 0) || self.state.turn != self.before.turn;
        gate_moved.then(|| QueueLine {
            ticket_id,
            version: self.state.version,
            waiting: self.len,
            turn: self.state.turn.map(|turn| QueueTurn {
                user_id: turn.user_id,
                expires_at: turn.expires_at,
            }),
        })
    }
}
