//! The fairness log's writer: one task that writes whatever the rooms appended since its
//! last write in one transaction (group commit), in the order it was handed over, and
//! then lets each waiting request answer. A burst of joins costs a few transactions,
//! not one each; no buyer hears of a place the log does not hold.

use std::sync::Arc;
use std::time::Duration;

use boxoffice_common::Id;
use boxoffice_platform::bus::Envelope;
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::log::Entry;
use super::store::RoomStore;
use super::tenancy::TenureOver;

/// What one change of one room adds to the store.
#[derive(Debug)]
pub struct Appendix {
    pub event: Id,
    pub entries: Vec<Entry>,
    /// New members: (pseudonym, user).
    pub members: Vec<(String, Id)>,
    /// A `room:gate` to publish, with the version it sets.
    pub gate: Option<(i64, Envelope)>,
    /// The writer's tenure of the room (distributed mode): written only while it runs.
    pub tenure: Option<i64>,
    /// Told once the appendix is written.
    pub done: oneshot::Sender<anyhow::Result<()>>,
}

/// The rooms' side: hands appendices over, in order.
#[derive(Debug, Clone)]
pub struct LogWriter {
    queue: mpsc::UnboundedSender<Appendix>,
}

/// The task's side: what it writes.
#[derive(Debug, Clone)]
pub struct LogWriterTask {
    store: Arc<dyn RoomStore>,
    /// Shared so that a task started again after a failure takes up the same queue.
    queue: Arc<Mutex<mpsc::UnboundedReceiver<Appendix>>>,
}

/// The most appendices written in one transaction.
const MAX_BATCH: usize = 2_048;

/// A writer for `store` and the task that must run for it.
pub fn log_writer(store: Arc<dyn RoomStore>) -> (LogWriter, LogWriterTask) {
    let (queue, received) = mpsc::unbounded_channel();
    (
        LogWriter { queue },
        LogWriterTask {
            store,
            queue: Arc::new(Mutex::new(received)),
        },
    )
}

impl LogWriter {
    /// Queues `appendix`; its `done` is told when it is written (or that the writer is
    /// gone, when the service is stopping).
    pub fn hand(&self, appendix: Appendix) {
        if let Err(mpsc::error::SendError(appendix)) = self.queue.send(appendix) {
            let _ = appendix
                .done
                .send(Err(anyhow::anyhow!("the fairness log writer stopped")));
        }
    }
}

impl LogWriterTask {
    /// Writes until `stop`. A failed write is tried again (the database may be busy or
    /// briefly away) — never skipped, since the log must have no gap.
    pub async fn run(self, stop: CancellationToken) -> anyhow::Result<()> {
        let mut queue = self.queue.lock().await;
        let mut batch = Vec::new();
        loop {
            tokio::select! {
                () = stop.cancelled() => {
                    // Whoever waits for what is still queued is told it was not written.
                    queue.close();
                    while let Ok(appendix) = queue.try_recv() {
                        let _ = appendix
                            .done
                            .send(Err(anyhow::anyhow!("the service is stopping")));
                    }
                    return Ok(());
                }
                received = queue.recv_many(&mut batch, MAX_BATCH) => {
                    if received == 0 {
                        return Ok(());
                    }
                }
            }
            let mut pause = Duration::from_millis(50);
            let over = loop {
                let refs: Vec<&Appendix> = batch.iter().collect();
                match self.store.append(&refs).await {
                    Ok(over) => break over,
                    Err(err) => {
                        tracing::warn!(
                            error = format!("{err:#}"),
                            "writing the fairness log; trying again"
                        );
                        tokio::select! {
                            () = stop.cancelled() => {
                                for appendix in batch.drain(..) {
                                    let _ = appendix
                                        .done
                                        .send(Err(anyhow::anyhow!("the service is stopping")));
                                }
                                return Ok(());
                            }
                            () = tokio::time::sleep(pause) => {}
                        }
                        pause = (pause * 2).min(Duration::from_secs(5));
                    }
                }
            };
            for (position, appendix) in batch.drain(..).enumerate() {
                let outcome = if over.contains(&position) {
                    // Another replica runs the room now; what this one decided is void.
                    Err(TenureOver(appendix.event).into())
                } else {
                    Ok(())
                };
                let _ = appendix.done.send(outcome);
            }
        }
    }
}
