//! Publishes a service's outbox.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use boxoffice_common::Id;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::OutboxStore;
use crate::bus::EventBus;

/// Rows read per query.
const BATCH: u32 = 512;
/// Events published but not yet confirmed, at most. Bounds memory and lets the bus
/// pipeline confirmations (JetStream acks, consumers working) instead of one at a time.
const MAX_IN_FLIGHT: usize = 2048;
/// Fallback poll, for rows whose commit notification was missed (another process).
const POLL: Duration = Duration::from_secs(1);
/// Pause after a failed publish before scanning again from the oldest unsent row.
/// How often the relay scans again from the oldest unsent row, for stores whose commits may
/// land behind the cursor (PostgreSQL); this bounds how long such a row waits. In-flight
/// rows are skipped, never sent twice. Reading the unsent rows again costs, so stores that
/// commit in order (SQLite) skip it.
const RESCAN_EVERY: Duration = Duration::from_millis(100);
const RETRY_PAUSE: Duration = Duration::from_millis(500);
/// Published rows are kept this long, so a broker write lost before it reached disk can
/// still be found and published again.
const KEEP_SENT: Duration = Duration::from_secs(24 * 60 * 60);
const PURGE_EVERY: Duration = Duration::from_secs(10 * 60);
/// How often the backlog gauges (`boxoffice_outbox_pending`, `…_oldest_age_seconds`) are
/// refreshed from the store.
const GAUGES_EVERY: Duration = Duration::from_secs(5);

/// Moves rows from one outbox to the bus. Run one per service store.
pub struct Relay {
    name: String,
    store: Arc<dyn OutboxStore>,
    bus: Arc<dyn EventBus>,
    wake: Arc<Notify>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Relay {
    /// `wake` is notified by the store after each commit that wrote outbox rows.
    pub fn new(
        name: &str,
        store: Arc<dyn OutboxStore>,
        bus: Arc<dyn EventBus>,
        wake: Arc<Notify>,
    ) -> Self {
        Self {
            name: name.to_owned(),
            store,
            bus,
            wake,
        }
    }

    /// Publishes until `stop` is cancelled.
    pub async fn run(self, stop: CancellationToken) {
        // Position of the newest row handed to the bus. Rows are read after it, so rows
        // still waiting for confirmation are not published twice.
        let mut cursor = 0_i64;
        let mut in_flight: HashSet<Id> = HashSet::new();
        let mut receipts: JoinSet<(Id, anyhow::Result<()>)> = JoinSet::new();
        let mut last_purge = tokio::time::Instant::now();
        let mut last_rescan = tokio::time::Instant::now();
        let mut last_gauges: Option<tokio::time::Instant> = None;
        let rescans = !self.store.commits_in_seq_order();

        loop {
            if rescans && last_rescan.elapsed() >= RESCAN_EVERY {
                cursor = 0;
                last_rescan = tokio::time::Instant::now();
            }
            if in_flight.len() < MAX_IN_FLIGHT {
                match self.store.unsent_after(cursor, BATCH).await {
                    Ok(rows) => {
                        for row in rows {
                            if in_flight.contains(&row.event.id) {
                                cursor = cursor.max(row.seq);
                                continue;
                            }
                            match self.bus.publish(&row.event).await {
                                Ok(receipt) => {
                                    let id = row.event.id;
                                    in_flight.insert(id);
                                    receipts.spawn(async move { (id, receipt.await) });
                                    cursor = row.seq;
                                }
                                Err(err) => {
                                    tracing::warn!(relay = %self.name, error = format!("{err:#}"), "publish failed; will retry");
                                    break;
                                }
                            }
                        }
                    }
                    Err(err) => {
                        tracing::warn!(relay = %self.name, error = format!("{err:#}"), "reading the outbox failed");
                    }
                }
            }

            let mut sent = Vec::new();
            let mut failed = false;
            tokio::select! {
                () = stop.cancelled() => break,
                () = self.wake.notified() => {},
                () = tokio::time::sleep(POLL) => {},
                Some(joined) = receipts.join_next(), if !receipts.is_empty() => {
                    settle(joined, &mut in_flight, &mut sent, &mut failed);
                    while let Some(joined) = receipts.try_join_next() {
                        settle(joined, &mut in_flight, &mut sent, &mut failed);
                    }
                }
            }
            if !sent.is_empty()
                && let Err(err) = self.store.mark_sent(&sent).await
            {
                // The rows stay unsent and will be published again: consumers dedupe.
                tracing::warn!(relay = %self.name, error = format!("{err:#}"), "marking rows sent failed");
            }
            if failed {
                // Start over from the oldest unsent row once the bus is back.
                cursor = 0;
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(RETRY_PAUSE) => {},
                }
            }
            if last_gauges.is_none_or(|at| at.elapsed() >= GAUGES_EVERY) {
                last_gauges = Some(tokio::time::Instant::now());
                self.refresh_gauges().await;
            }
            if last_purge.elapsed() >= PURGE_EVERY {
                last_purge = tokio::time::Instant::now();
                if let Err(err) = self.store.purge_sent(KEEP_SENT).await {
                    tracing::warn!(relay = %self.name, error = format!("{err:#}"), "purging sent rows failed");
                }
            }
        }
        receipts.abort_all();
    }

    async fn refresh_gauges(&self) {
        use crate::telemetry::names::{OUTBOX_OLDEST_AGE, OUTBOX_PENDING};
        match self.store.backlog().await {
            Ok((pending, oldest)) => {
                let age = oldest
                    .and_then(|id| {
                        boxoffice_common::id::age_of(id, time::OffsetDateTime::now_utc())
                    })
                    .map_or(0.0, |age| age.as_seconds_f64().max(0.0));
                metrics::gauge!(OUTBOX_PENDING, "service" => self.name.clone()).set(pending as f64);
                metrics::gauge!(OUTBOX_OLDEST_AGE, "service" => self.name.clone()).set(age);
            }
            Err(err) => {
                tracing::debug!(relay = %self.name, error = format!("{err:#}"), "reading the outbox backlog failed");
            }
        }
    }
}

fn settle(
    joined: Result<(Id, anyhow::Result<()>), tokio::task::JoinError>,
    in_flight: &mut HashSet<Id>,
    sent: &mut Vec<Id>,
    failed: &mut bool,
) {
    match joined {
        Ok((id, Ok(()))) => {
            in_flight.remove(&id);
            sent.push(id);
        }
        Ok((id, Err(err))) => {
            in_flight.remove(&id);
            *failed = true;
            tracing::debug!(
                error = format!("{err:#}"),
                "event not confirmed; will publish again"
            );
        }
        Err(_) => *failed = true,
    }
}
