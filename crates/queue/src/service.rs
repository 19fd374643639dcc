//! The queue's use-cases: join, look, leave — and the same rules applied to what other
//! services report (events) and to the clock (turns that run out).
//!
//! A ticket listed moments ago may not have reached the queue yet: a join refused as
//! unknown waits for it (bounded, platform's `fresh` module), woken by the store's change
//! feed — after the commit on SQLite, from the commit script of any replica on Redis.

use std::sync::{Arc, Mutex};

use boxoffice_common::{Clock, Id, TicketId, UserId};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::fresh::FreshIds;
use boxoffice_platform::metrics;
use boxoffice_platform::store::{Claim, Modified};
use boxoffice_platform::telemetry::names::{QUEUE_PLACES, QUEUE_TURNS};
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;

use crate::SOURCE;
use crate::domain::{Line, LineOp, Place, QueueError, Rules};
use crate::store::{Change, QueueStore, Snapshot};

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
    /// Joins waiting for a ticket listed moments ago that the queue has not heard of.
    fresh: FreshIds,
}

impl QueueService {
    pub fn new(
        store: Arc<dyn QueueStore>,
        clock: Arc<dyn Clock>,
        rules: Rules,
        fresh: FreshIds,
    ) -> Self {
        Self {
            store,
            clock,
            rules,
            turn_running: Arc::new(Notify::new()),
            fresh,
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
    /// service enforces moved: the rule's line returns the payload, this wraps it.
    pub async fn change(
        &self,
        ticket: TicketId,
        actor: Option<UserId>,
        claim: Option<Claim<'_>>,
        rule: impl Fn(&Rules, &mut Line) -> Result<(), QueueError> + Send + Sync + 'static,
    ) -> anyhow::Result<Modified<Snapshot, QueueError>> {
        let ticket_id = ticket.get();
        let rules = self.rules;
        let clock = self.clock.clone();
        // Places taken and given up, and whether a turn began: counted once committed.
        let moved: Arc<Mutex<(u64, u64, bool)>> = Arc::default();
        let seen = Arc::clone(&moved);
        let change: Change = Box::new(move |line: &mut Line| {
            let (len, turn) = (line.len(), line.state.turn);
            rule(&rules, line)?;
            let joined = line
                .ops()
                .iter()
                .filter(|op| matches!(op, LineOp::Push(_)))
                .count() as u64;
            let left = (len + joined).saturating_sub(line.len());
            let turn_began = line.state.turn.is_some() && line.state.turn != turn;
            *seen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = (joined, left, turn_began);
            Ok(line
                .finish(ticket_id)
                .map(|gate| Envelope::new(SOURCE, clock.now(), &gate))
                .into_iter()
                .collect())
        });
        let actor = actor.map(UserId::get);
        let modified = self.store.modify(ticket_id, actor, claim, change).await?;
        if let Modified::Saved(_) = &modified {
            let (joined, left, turn_began) = *moved
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            metrics::counter!(QUEUE_PLACES, "change" => "joined").increment(joined);
            metrics::counter!(QUEUE_PLACES, "change" => "left").increment(left);
            if turn_began {
                metrics::counter!(QUEUE_TURNS, "outcome" => "started").increment(1);
            }
        }
        if let Modified::Saved(snapshot) = &modified
            && snapshot.state.turn.is_some()
        {
            self.turn_running.notify_one();
        }
        Ok(modified)
    }

    /// The buyer joins the ticket's line (or keeps their place) and learns where they
    /// stand. A ticket unknown here but listed moments ago is waited for, then joined.
    pub async fn join(&self, user: UserId, ticket: TicketId) -> Result<Place, QueueServiceError> {
        match self.join_known(user, ticket).await {
            Err(QueueServiceError::Refused(QueueError::NotFound)) => {}
            answered => return answered,
        }
        let heard_of = self
            .fresh
            .wait_for(ticket.get(), || async {
                let snapshot = self.store.snapshot(ticket.get(), user.get()).await?;
                anyhow::Ok(snapshot.state.known().then_some(()))
            })
            .await?;
        match heard_of {
            Some(()) => self.join_known(user, ticket).await,
            None => Err(QueueError::NotFound.into()),
        }
    }

    /// [`Self::join`] with what the queue knows now.
    async fn join_known(&self, user: UserId, ticket: TicketId) -> Result<Place, QueueServiceError> {
        let buyer = user.get();
        let modified = self
            .change(ticket, Some(user), None, move |rules, line| {
                rules.join(line, buyer)
            })
            .await?;
        let snapshot = match modified {
            Modified::Saved(snapshot) | Modified::Unchanged(snapshot) => snapshot,
            Modified::Refused(refusal) => return Err(refusal.into()),
            // Only consumers' changes carry an inbox claim, and an unknown ticket is an
            // empty line.
            Modified::Duplicate | Modified::Missing => {
                return Err(anyhow::anyhow!("a join was reported as {modified:?}").into());
            }
        };
        self.place_in(&snapshot, user)
            .ok_or_else(|| anyhow::anyhow!("joined but not in line").into())
    }

    /// Where the buyer stands, if they wait in the ticket's line.
    pub async fn status(&self, user: UserId, ticket: TicketId) -> anyhow::Result<Option<Place>> {
        let snapshot = self.store.snapshot(ticket.get(), user.get()).await?;
        Ok(self.place_in(&snapshot, user))
    }

    /// The buyer leaves the line; leaving a line one is not in is fine.
    pub async fn leave(&self, user: UserId, ticket: TicketId) -> anyhow::Result<()> {
        let now = self.clock.now();
        let buyer = user.get();
        let modified = self
            .change(ticket, Some(user), None, move |rules, line| {
                rules.leave(line, buyer, now);
                Ok(())
            })
            .await?;
        if let Modified::Refused(refusal) = modified {
            anyhow::bail!("leaving refused: {refusal}");
        }
        Ok(())
    }

    /// Wakes joins waiting for a fresh ticket whenever its line changes, from `changes`
    /// (the store's change feed, subscribed before the service serves), until `stop`.
    pub async fn wake_fresh_joins(
        &self,
        mut changes: broadcast::Receiver<Id>,
        stop: CancellationToken,
    ) -> anyhow::Result<()> {
        loop {
            tokio::select! {
                () = stop.cancelled() => return Ok(()),
                changed = changes.recv() => match changed {
                    Ok(ticket) => self.fresh.notify(ticket),
                    // Behind: whichever ticket a join waits for may have changed.
                    Err(broadcast::error::RecvError::Lagged(_)) => self.fresh.notify_all(),
                    Err(broadcast::error::RecvError::Closed) => {
                        anyhow::bail!("the queue store's change feed closed")
                    }
                },
            }
        }
    }

    pub fn place_in(&self, snapshot: &Snapshot, user: UserId) -> Option<Place> {
        let position = snapshot.position?;
        Some(self.rules.place(
            &snapshot.state,
            user.get(),
            position,
            snapshot.len,
            self.clock.now(),
        ))
    }
}
