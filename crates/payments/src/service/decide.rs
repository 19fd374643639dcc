//! Authorize, decide, then capture or void (DESIGN.md §3 rule 6).
//!
//! An authorized payment asks the orders service for its order (`payment:authorized`, in
//! the transaction that records the authorization). The answer — `order:completed` or
//! `order:refused` — is recorded as `capturing` or `voiding` in the transaction that
//! claims the event, and the provider is told after that commit. If the provider cannot
//! be reached, or the process stops in between, [`PaymentsService::resume`] finishes the
//! step later (at start and periodically): every provider call is keyed by the payment id
//! and the step, so a capture or a void never happens twice. An authorization whose
//! answer is overdue is decided from what this service's order replica already says, or
//! asked for again.

use std::sync::Arc;
use std::time::Duration;

use boxoffice_common::Id;
use boxoffice_common::events::RefusalReason;

use super::{PaymentsError, PaymentsService, announce, save_if};
use crate::decisions::Watch;
use crate::domain::{OrderReplica, OrderState, Payment, PaymentStatus, Verdict};
use crate::store::{Change, Claim, Edit, Modified, Target, Trigger};
use boxoffice_platform::store::only;

/// How long an authorization may wait for the order's decision before the resumer
/// decides from the replica or asks again.
pub const ASK_AGAIN_AFTER: Duration = Duration::from_secs(30);

impl PaymentsService {
    /// The provider holds the money for a payment: record it and ask for the order.
    pub(super) async fn authorized(
        &self,
        payment_id: Id,
        provider_id: String,
        trigger: Trigger<'_>,
    ) -> Result<Payment, PaymentsError> {
        let clock = Arc::clone(&self.clock);
        let change =
            move |p: &mut Payment, _: Option<&_>| Ok(announce(&*clock, p.authorized(provider_id)));
        self.apply(payment_id, trigger, Box::new(change)).await
    }

    /// Waits, up to the decision bound, until the payment is decided (or needs the payer),
    /// woken by the commits that change it; the payment as it then is. No database
    /// connection is held while waiting.
    pub(super) async fn await_decision(
        &self,
        payment_id: Id,
        watch: &Watch,
    ) -> Result<Payment, PaymentsError> {
        let deadline = tokio::time::Instant::now() + self.decision_wait;
        loop {
            let changed = watch.notify().notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let payment = self.current(payment_id).await?;
            if payment.is_decided() || tokio::time::timeout_at(deadline, changed).await.is_err() {
                return Ok(payment);
            }
        }
    }

    /// `order:completed`: the order is the payer's, so its authorization is captured.
    /// The verdict is saved with the event's claim and the newer replica; the capture
    /// follows the commit. `false` for an event handled before.
    pub async fn order_completed(
        &self,
        claim: Claim<'_>,
        replica: &OrderReplica,
    ) -> Result<bool, PaymentsError> {
        let fresh = self
            .decide_all(&[(OrderDecision::Completed { claim, replica }, None)])
            .await?;
        Ok(only(fresh)?)
    }

    /// `order:refused`: the authorization of payment `payment_id` is voided. `false` for
    /// an event handled before.
    pub async fn order_refused(
        &self,
        claim: Claim<'_>,
        payment_id: Id,
        reason: RefusalReason,
    ) -> Result<bool, PaymentsError> {
        let refused = OrderDecision::Refused {
            claim,
            payment_id,
            reason,
        };
        let fresh = self.decide_all(&[(refused, None)]).await?;
        Ok(only(fresh)?)
    }

    /// Several of the orders service's decisions, as [`Self::order_completed`] and
    /// [`Self::order_refused`] record them one by one, but with one commit for all the
    /// verdicts and the provider's captures and voids that follow side by side: a queue
    /// of decisions (an on-sale's) costs one wait for the writer, not one per payment.
    /// For each decision, `false` if its event was handled before. A provider step that
    /// fails is left to [`Self::resume`]; the verdict is kept either way. Each decision
    /// comes with the request id its event carried, for the events its capture or void
    /// publishes (`None`: the caller's scope, if any, as for any change).
    pub async fn decide_all(
        &self,
        decisions: &[(OrderDecision<'_>, Option<&str>)],
    ) -> Result<Vec<bool>, PaymentsError> {
        let edits = decisions
            .iter()
            .map(|(decision, _)| decision.edit())
            .collect();
        let outcomes = self.store.modify_all(edits).await?;
        let fresh = outcomes
            .iter()
            .map(|outcome| !matches!(outcome, Modified::Duplicate))
            .collect();
        let decided: Vec<(Payment, Option<&str>)> = outcomes
            .into_iter()
            .zip(decisions)
            .filter_map(|(outcome, (_, request_id))| match outcome {
                Modified::Saved(payment) => Some((payment, *request_id)),
                _ => None,
            })
            .collect();
        for (payment, _) in &decided {
            self.decisions.settled(payment.id);
        }
        self.finish_all(decided).await;
        Ok(fresh)
    }

    /// [`Self::finish`] for several payments: the provider told side by side, what it
    /// confirmed saved in one transaction. Failures are logged and left to
    /// [`Self::resume`].
    async fn finish_all(&self, payments: Vec<(Payment, Option<&str>)>) {
        let steps = payments.iter().map(|(p, _)| self.provider_step(p));
        let steps = futures::future::join_all(steps).await;
        let mut edits = Vec::new();
        for ((payment, request_id), step) in payments.iter().zip(steps) {
            match step {
                Ok(Some(change)) => edits.push(Edit {
                    target: Target::Payment(payment.id),
                    trigger: Trigger::Request,
                    change: carrying(change, *request_id),
                }),
                Ok(None) => {}
                Err(err) => {
                    tracing::warn!(payment = %payment.id, error = %err, "provider step failed; will retry");
                }
            }
        }
        if edits.is_empty() {
            return;
        }
        match self.store.modify_all(edits).await {
            Ok(outcomes) => {
                for outcome in &outcomes {
                    if let Modified::Saved(payment) = outcome {
                        self.saved(payment);
                    }
                }
            }
            Err(err) => {
                tracing::warn!(
                    error = format!("{err:#}"),
                    "saving provider confirmations failed; will retry"
                );
            }
        }
    }

    /// Does what a payment's status says is left to do with the provider: capture,
    /// void or refund. Anything else is already done.
    pub(super) async fn finish(&self, payment: Payment) -> Result<Payment, PaymentsError> {
        if payment.status == PaymentStatus::Refunding {
            return self.refund(payment).await;
        }
        match self.provider_step(&payment).await? {
            Some(change) => self.apply(payment.id, Trigger::Request, change).await,
            None => Ok(payment),
        }
    }

    /// Tells the provider to capture or void a payment whose status says so; the change
    /// that records the provider's confirmation (`None` when there is nothing to do).
    async fn provider_step(&self, payment: &Payment) -> Result<Option<Change>, PaymentsError> {
        let provider = self.gateway.provider();
        match payment.status {
            PaymentStatus::Capturing => {
                provider.capture(payment.charged_as()?, payment.id).await?;
                tracing::info!(payment = %payment.id, order = %payment.order_id, "captured");
                let clock = Arc::clone(&self.clock);
                Ok(Some(Box::new(move |p: &mut Payment, _: Option<&_>| {
                    Ok(announce(&*clock, p.captured()))
                })))
            }
            PaymentStatus::Voiding => {
                provider.void(payment.charged_as()?, payment.id).await?;
                tracing::info!(payment = %payment.id, order = %payment.order_id, "voided");
                Ok(Some(Box::new(|p: &mut Payment, _: Option<&_>| {
                    Ok(save_if(p.voided()))
                })))
            }
            _ => Ok(None),
        }
    }

    /// Finishes steps left half-way, `limit` at a time and all of them, oldest first
    /// (rows that keep failing never hide newer ones from a pass): captures,
    /// voids and refunds the provider has not confirmed, and authorizations undecided
    /// for longer than `ask_again_after` — decided from the order replica when it
    /// already knows the order's end (only the order's one active payment can be
    /// authorized, so a completed order was completed for it), asked for again
    /// otherwise. Returns how many moved on.
    pub async fn resume(&self, limit: u32, ask_again_after: Duration) -> anyhow::Result<usize> {
        let mut moved = 0;
        let now = self.clock.now();
        let mut offset = 0;
        loop {
            let page = self.store.unfinished(offset, limit).await?;
            let full = page.len() >= limit as usize;
            for payment in page {
                let id = payment.id;
                let result = if payment.status == PaymentStatus::Authorized {
                    if now - payment.created_at < ask_again_after {
                        continue;
                    }
                    self.overdue(payment).await
                } else {
                    self.finish(payment).await
                };
                match result {
                    Ok(_) => moved += 1,
                    Err(err) => {
                        tracing::warn!(payment = %id, error = %err, "unfinished payment failed again; will retry")
                    }
                }
            }
            // Rows finished in this pass leave the list, so later pages may skip a few;
            // they are the next pass's.
            if !full || limit == 0 {
                return Ok(moved);
            }
            offset += limit;
        }
    }

    /// An authorization whose decision is overdue.
    async fn overdue(&self, payment: Payment) -> Result<Payment, PaymentsError> {
        let order = self.store.order(payment.order_id).await?;
        let verdict = match order.map(|o| o.state) {
            Some(OrderState::Complete) => Verdict::Capture,
            Some(OrderState::Cancelled) => Verdict::refused(RefusalReason::Cancelled),
            Some(OrderState::Open) | None => {
                tracing::info!(payment = %payment.id, "decision overdue; asking the orders service again");
                let clock = Arc::clone(&self.clock);
                let change =
                    move |p: &mut Payment, _: Option<&_>| Ok(announce(&*clock, p.ask_again()));
                return self
                    .apply(payment.id, Trigger::Request, Box::new(change))
                    .await;
            }
        };
        let change = move |p: &mut Payment, _: Option<&_>| Ok(save_if(p.decide(verdict)));
        let decided = self
            .apply(payment.id, Trigger::Request, Box::new(change))
            .await?;
        self.finish(decided).await
    }
}

/// One of the orders service's decisions about an order a payment is for.
#[derive(Debug, Clone, Copy)]
pub enum OrderDecision<'a> {
    /// `order:completed`: capture the order's active payment; `replica` is the order as
    /// it now is.
    Completed {
        claim: Claim<'a>,
        replica: &'a OrderReplica,
    },
    /// `order:refused`: void payment `payment_id`.
    Refused {
        claim: Claim<'a>,
        payment_id: Id,
        reason: RefusalReason,
    },
}

impl<'a> OrderDecision<'a> {
    /// The verdict as a change of the payment, recorded with the event's claim.
    fn edit(&self) -> Edit<'a> {
        match *self {
            Self::Completed { claim, replica } => Edit {
                target: Target::ActiveFor(replica),
                trigger: Trigger::Event(claim),
                change: Box::new(|p: &mut Payment, _: Option<&_>| {
                    Ok(save_if(p.decide(Verdict::Capture)))
                }),
            },
            Self::Refused {
                claim,
                payment_id,
                reason,
            } => Edit {
                target: Target::Payment(payment_id),
                trigger: Trigger::Event(claim),
                change: Box::new(move |p: &mut Payment, _: Option<&_>| {
                    Ok(save_if(p.decide(Verdict::refused(reason))))
                }),
            },
        }
    }
}

/// `change`, its events carrying `request_id` when there is one.
fn carrying(change: Change, request_id: Option<&str>) -> Change {
    let Some(request_id) = request_id.map(str::to_owned) else {
        return change;
    };
    Box::new(move |payment: &mut Payment, order: Option<&OrderReplica>| {
        Ok(change(payment, order)?.carrying(Some(&request_id)))
    })
}
