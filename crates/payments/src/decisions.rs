//! Wakes the HTTP request that is waiting for its payment's decision.
//!
//! `POST /api/payments` authorizes, then waits — bounded — for the orders service to
//! complete or refuse the order and for the capture or void that follows. The change
//! that settles a payment is committed by the event consumer (or a webhook, or the
//! resumer), not by the request, so the request registers a [`Watch`] for its payment id
//! and the service calls [`Decisions::settled`] after every commit that changed a
//! payment. The waiter re-reads the payment after each wake-up; it holds no database
//! connection while it waits.
//!
//! In-process only: with several payments replicas, a decision taken by another replica
//! is seen when the bound runs out (the answer is then `processing`, as the contract
//! allows).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use boxoffice_common::Id;
use tokio::sync::Notify;

/// The waiters of this process, by payment id. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Decisions {
    waiting: Arc<Mutex<HashMap<Id, Arc<Notify>>>>,
}

impl Decisions {
    /// Starts watching payment `id`; the watch ends when dropped.
    pub fn watch(&self, id: Id) -> Watch {
        let notify = Arc::clone(
            self.lock()
                .entry(id)
                .or_insert_with(|| Arc::new(Notify::new())),
        );
        Watch {
            decisions: self.clone(),
            id,
            notify,
        }
    }

    /// Payment `id` changed (committed): wake whoever waits for it.
    pub fn settled(&self, id: Id) {
        if let Some(notify) = self.lock().get(&id) {
            notify.notify_waiters();
        }
    }

    /// How many payments are being waited for (for tests).
    pub fn watched(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Id, Arc<Notify>>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A request's interest in one payment.
#[derive(Debug)]
pub struct Watch {
    decisions: Decisions,
    id: Id,
    notify: Arc<Notify>,
}

impl Watch {
    /// The notice to wait on. Create it — and `enable` it — before reading the payment,
    /// so a commit between the read and the wait is not missed.
    pub fn notify(&self) -> &Notify {
        &self.notify
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let mut waiting = self.decisions.lock();
        // The map's own reference and this one: nobody else watches this payment.
        if Arc::strong_count(&self.notify) <= 2 {
            waiting.remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_watch_is_woken_by_a_settlement_and_forgotten_when_dropped() {
        let decisions = Decisions::default();
        let id = boxoffice_common::new_id();
        let watch = decisions.watch(id);
        let second = decisions.watch(id);
        {
            let notified = watch.notify().notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            decisions.settled(boxoffice_common::new_id());
            decisions.settled(id);
            tokio::time::timeout(Duration::from_secs(5), notified)
                .await
                .expect("woken");
        }
        drop(watch);
        assert_eq!(decisions.watched(), 1, "the second watch still waits");
        drop(second);
        assert_eq!(decisions.watched(), 0);
    }
}
