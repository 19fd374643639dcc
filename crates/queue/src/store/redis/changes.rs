//! Following other replicas: every commit publishes its ticket id on `{p}:changes`; the
//! follower forwards them into the store's local change feed, so a live feed served by
//! this replica hears of a join made on another.

use std::time::Duration;

use boxoffice_common::Id;
use futures::StreamExt;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// Pause before reconnecting after the subscription failed.
const RECONNECT_PAUSE: Duration = Duration::from_secs(1);

/// The pub/sub follower of one store. Runs under the service's supervisor.
#[derive(Debug, Clone)]
pub(super) struct ChangeFollower {
    pub(super) client: redis::Client,
    pub(super) channel: String,
    pub(super) feed: broadcast::Sender<Id>,
}

impl ChangeFollower {
    /// Forwards changes until `stop`, reconnecting after errors: a lost subscription only
    /// delays live feeds (they look again every few seconds anyway), so it is logged and
    /// retried rather than fatal.
    pub(super) async fn run(self, stop: CancellationToken) -> anyhow::Result<()> {
        loop {
            tokio::select! {
                () = stop.cancelled() => return Ok(()),
                result = self.follow() => {
                    if let Err(err) = result {
                        tracing::warn!(error = format!("{err:#}"), "lost the queue change feed; reconnecting");
                    }
                }
            }
            tokio::select! {
                () = stop.cancelled() => return Ok(()),
                () = tokio::time::sleep(RECONNECT_PAUSE) => {}
            }
        }
    }

    async fn follow(&self) -> anyhow::Result<()> {
        let mut pubsub = self.client.get_async_pubsub().await?;
        pubsub.subscribe(&self.channel).await?;
        let mut messages = pubsub.on_message();
        while let Some(message) = messages.next().await {
            if let Ok(id) = message.get_payload::<String>()
                && let Ok(id) = id.parse()
            {
                // Nobody listening is fine.
                let _ = self.feed.send(id);
            }
        }
        Ok(())
    }
}
