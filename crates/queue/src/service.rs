//! The queue's use-cases: join, look, leave — and the same rules applied to what other
//! services report (events) and to the clock (turns that run out).

use std::sync::Arc;

use boxoffice_common::{Clock, Id};
use boxoffice_platform::bus::Envelope;
use tokio::sync::Notify;

use crate::SOURCE;
use crate::domain::{Line, Place, QueueError, Rules};
use crate::store::{Change, Claim, Modified, QueueStore, Snapshot};

#[derive(Debug, thiserror::Error)]
pub enum QueueServiceError {
    #[error(transparent)]
    Refused(#[from] QueueError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

#[derive(Debug, Clone)]
pub struct QueueService {
    store: Arc<dyn QueueStore>,
    clock: Arc<dyn Clock>,
    rules: Rules,
    /// Wakes the turn timer when a saved change leaves a turn running, so a turn's end is
    /// planned at once without waking the timer for every other change.
    turn_running: Arc<Notify>,
}

impl QueueService {
    pub fn new(store: Arc<dyn QueueStore>, clock: Arc<dyn Clock>, rules: Rules) -> Self {
        Self {
            store,
            clock,
            rules,
            turn_running: Arc::new(Notify::new()),
        }
    }

    pub fn turn_running(&self) -> &Arc<Notify> {
        &self.turn_running
    }

    pub fn store(&self) -> &Arc<dyn QueueStore> {
        &self.store
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn rules(&self) -> Rules {
        self.rules
    }

    /// Applies `rule` to a ticket's line and publishes `queue:line` when what the orders
    /// service enforces moved.
    pub async fn change(
        &self,
        ticket_id: Id,
        actor: Option<Id>,
        claim: Option<Claim<'_>>,
        rule: impl Fn(&Rules, &mut Line) -> Result<(), QueueError> + Send + Sync + 'static,
    ) -> anyhow::Result<Result<Modified, QueueError>> {
        let rules = self.rules;
        let clock = self.clock.clone();
        let change: Change = Box::new(move |line: &mut Line| {
            rule(&rules, line)?;
            Ok(line
                .finish(ticket_id)
                .map(|gate| Envelope::new(SOURCE, clock.now(), &gate))
                .into_iter()
                .collect())
        });
        let modified = self.store.modify(ticket_id, actor, claim, change).await?;
        if let Ok(Modified::Saved(snapshot)) = &modified
            && snapshot.state.turn.is_some()
        {
            self.turn_running.notify_one();
        }
        Ok(modified)
    }

    /// The buyer joins the ticket's line (or keeps their place) and learns where they stand.
    pub async fn join(&self, user: Id, ticket_id: Id) -> Result<Place, QueueServiceError> {
        let modified = self
            .change(ticket_id, Some(user), None, move |rules, line| {
                rules.join(line, user)
            })
            .await??;
        let snapshot = match modified {
            Modified::Saved(snapshot) | Modified::Unchanged(snapshot) => snapshot,
            // Only consumers' changes carry an inbox claim.
            Modified::Duplicate => {
                return Err(anyhow::anyhow!("a join was reported as a duplicate event").into());
            }
        };
        self.place_in(&snapshot, user)
            .ok_or_else(|| anyhow::anyhow!("joined but not in line").into())
    }

    /// Where the buyer stands, if they wait in the ticket's line.
    pub async fn status(&self, user: Id, ticket_id: Id) -> anyhow::Result<Option<Place>> {
        let snapshot = self.store.snapshot(ticket_id, user).await?;
        Ok(self.place_in(&snapshot, user))
    }

    /// The buyer leaves the line; leaving a line one is not in is fine.
    pub async fn leave(&self, user: Id, ticket_id: Id) -> anyhow::Result<()> {
        let now = self.clock.now();
        self.change(ticket_id, Some(user), None, move |rules, line| {
            rules.leave(line, user, now);
            Ok(())
        })
        .await?
        .map_err(|refusal| anyhow::anyhow!("leaving refused: {refusal}"))?;
        Ok(())
    }

    pub fn place_in(&self, snapshot: &Snapshot, user: Id) -> Option<Place> {
        let position = snapshot.position?;
        Some(self.rules.place(
            &snapshot.state,
            user,
            position,
            snapshot.len,
            self.clock.now(),
        ))
    }
}
