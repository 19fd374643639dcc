//! The stock gauges: how many listed tickets are available, reserved and sold, counted
//! in the store every few seconds. Counted, not kept up to date from changes, so the
//! numbers are right in both modes — whichever replica serves, after any restart — and
//! every replica reports the same totals (dashboards take the `max`).

use std::sync::Arc;
use std::time::Duration;

use boxoffice_platform::metrics;
use boxoffice_platform::telemetry::names::TICKETS;
use tokio_util::sync::CancellationToken;

use crate::domain::TicketStatus;
use crate::store::{ListQuery, StatusFilter, TicketStore};

/// How often the counts are refreshed.
pub const REFRESH_EVERY: Duration = Duration::from_secs(5);

/// Refreshes the gauges until `stop`. A failed count is logged and tried next time.
pub async fn run(store: Arc<dyn TicketStore>, stop: CancellationToken) -> anyhow::Result<()> {
    loop {
        for status in [
            TicketStatus::Available,
            TicketStatus::Reserved,
            TicketStatus::Sold,
        ] {
            let query = ListQuery {
                status: StatusFilter::Only(status),
                limit: 1,
                ..ListQuery::default()
            };
            match store.list(&query).await {
                Ok((_, count)) => {
                    metrics::gauge!(TICKETS, "state" => status.as_str()).set(count as f64);
                }
                Err(err) => {
                    tracing::warn!(error = format!("{err:#}"), "counting tickets failed");
                }
            }
        }
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            () = tokio::time::sleep(REFRESH_EVERY) => {},
        }
    }
}
