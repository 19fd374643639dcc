//! Logs and metrics, installed once per process.
//!
//! Both the tracing subscriber and the metrics recorder are process-global. Tests start
//! many apps in one process, so installation is guarded and later calls are no-ops.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

/// How log lines are written to standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines, for a terminal.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Installs the global tracing subscriber. `RUST_LOG` overrides the default level
/// (`info`, with the noisy SQL statement logs turned down).
pub fn init_tracing(format: LogFormat) {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let filter = EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr);
        // A second subscriber (another test in the same process) is not an error.
        let _ = match format {
            LogFormat::Text => builder.try_init(),
            LogFormat::Json => builder.json().flatten_event(true).try_init(),
        };
    });
}

pub mod names;

pub use names::{HTTP_REQUEST_DURATION, HTTP_REQUESTS_TOTAL};

/// The process-wide Prometheus recorder, installed on first use: every histogram of
/// [`names::CATALOG`] gets its buckets, every metric its help text, and the series a
/// dashboard needs before anything happened start at zero.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let mut builder = PrometheusBuilder::new();
            for metric in names::CATALOG {
                if let names::Kind::Histogram(buckets) = metric.kind {
                    builder = builder
                        .set_buckets_for_metric(Matcher::Full(metric.name.into()), buckets)
                        .expect("bucket list is not empty");
                }
            }
            let handle = match builder.install_recorder() {
                Ok(handle) => handle,
                // Another recorder won the race; still render ours, detached.
                Err(_) => return PrometheusBuilder::new().build_recorder().handle(),
            };
            describe_and_start();
            handle
        })
        .clone()
}

/// Help texts for every metric, and zeros for the series that exist from the start.
fn describe_and_start() {
    use names::*;
    for metric in CATALOG {
        match metric.kind {
            Kind::Counter => metrics::describe_counter!(metric.name, metric.help),
            Kind::Gauge => metrics::describe_gauge!(metric.name, metric.help),
            Kind::Histogram(_) => {
                metrics::describe_histogram!(metric.name, metrics::Unit::Seconds, metric.help);
            }
        }
    }
    metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    for reason in REFUSAL_REASONS {
        metrics::counter!(ORDERS_REFUSED, "reason" => *reason).absolute(0);
    }
    for reason in CANCEL_REASONS {
        metrics::counter!(ORDERS_CANCELLED, "reason" => *reason).absolute(0);
    }
    for outcome in PAYMENT_OUTCOMES {
        metrics::counter!(PAYMENTS, "outcome" => *outcome).absolute(0);
    }
    for name in [
        ORDERS_PLACED,
        ORDERS_COMPLETED,
        CLAIM_CONFLICTS,
        OVERSOLD,
        EXPIRATION_FIRED,
    ] {
        metrics::counter!(name).absolute(0);
    }
    for change in ["joined", "left"] {
        metrics::counter!(QUEUE_PLACES, "change" => change).absolute(0);
    }
    for outcome in ["started", "lapsed"] {
        metrics::counter!(QUEUE_TURNS, "outcome" => outcome).absolute(0);
    }
    metrics::counter!(WEBHOOKS, "type" => "other", "result" => "ignored").absolute(0);
    metrics::gauge!(SSE_CONNECTIONS).set(0.0);
    for state in ROOM_PLACE_STATES {
        metrics::gauge!(ROOM_PLACES, "state" => *state).set(0.0);
    }
    metrics::gauge!(ROOM_INVERSIONS).set(0.0);
    metrics::counter!(ROOM_ADMISSIONS).absolute(0);
    metrics::counter!(ROOM_LOG_FAULTS).absolute(0);
    // Histograms without a label appear (empty) from the start.
    for name in [EXPIRATION_LAG, WEBHOOK_LAG] {
        let _ = metrics::histogram!(name);
    }
}

/// Starts the counters of consumer `consumer` at zero, so a dashboard shows a quiet
/// consumer as 0 rather than as missing.
pub fn start_consumer_series(consumer: &'static str) {
    metrics_handle();
    for result in names::CONSUMER_RESULTS {
        metrics::counter!(names::CONSUMER_EVENTS, "consumer" => consumer, "result" => *result)
            .absolute(0);
    }
    metrics::counter!(names::DEAD_LETTERS, "consumer" => consumer).absolute(0);
}

/// The request id a log line, an event or a consumer works under: set for the duration
/// of one HTTP request (from `X-Request-Id`) and of one event's handling (from the
/// envelope), so events published meanwhile carry it on.
pub mod request_id {
    use std::future::Future;
    use std::sync::Arc;

    tokio::task_local! {
        static CURRENT: Option<Arc<str>>;
    }

    /// The id of the request (or event handling) this task works for, if any.
    pub fn current() -> Option<String> {
        CURRENT
            .try_with(|id| id.as_deref().map(str::to_owned))
            .ok()
            .flatten()
    }

    /// Runs `work` with `id` as the current request id.
    pub async fn scope<F: Future>(id: Option<&str>, work: F) -> F::Output {
        CURRENT.scope(id.map(Arc::from), work).await
    }

    /// Whether a caller's `X-Request-Id` is kept: 1 to 128 visible ASCII letters, digits
    /// or `-_.:`; anything else is replaced by a fresh id.
    pub fn is_well_formed(id: &str) -> bool {
        (1..=128).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
    }
}
