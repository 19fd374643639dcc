//! How far behind a consumer's copy of the world is, read from the server's own
//! `boxoffice_consumer_lag_seconds` histogram (time from an event occurring to the
//! consumer having committed its effect).
//!
//! The load generator cannot see inside a replica, so the figure comes from the server:
//! the histogram is read before and after the timed part and the difference is what
//! happened during it. Quantiles of a histogram are known only up to its buckets, so a
//! quantile is reported as the upper bound of the bucket it falls in.

use std::collections::BTreeMap;

use serde::Serialize;

/// The payments service's main consumer: it applies `order:created`, which is what a
/// payment for a new order waits for.
pub const PAYMENTS_CONSUMER: &str = "payments";

/// Cumulative bucket counts by upper bound (`le`), as text → count.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Buckets(BTreeMap<u64, f64>);

/// What a consumer's lag was during the timed part.
#[derive(Debug, Clone, Serialize)]
pub struct Lag {
    pub consumer: String,
    pub events: u64,
    /// Upper bound of the bucket holding the median, in milliseconds.
    pub p50_ms_at_most: Option<f64>,
    /// Upper bound of the bucket holding the 99th percentile, in milliseconds.
    pub p99_ms_at_most: Option<f64>,
}

/// `le` in nanoseconds, so bounds sort as numbers; `+Inf` is `u64::MAX`.
fn bound_key(le: &str) -> Option<u64> {
    if le == "+Inf" {
        return Some(u64::MAX);
    }
    let seconds: f64 = le.parse().ok()?;
    Some((seconds * 1e9).round() as u64)
}

/// The buckets of `consumer` in a Prometheus text exposition.
pub fn buckets(metrics: &str, consumer: &str) -> Buckets {
    let label = format!("consumer=\"{consumer}\"");
    let mut found = BTreeMap::new();
    for line in metrics.lines() {
        let Some(rest) = line.strip_prefix("boxoffice_consumer_lag_seconds_bucket{") else {
            continue;
        };
        let Some((labels, value)) = rest.split_once("} ") else {
            continue;
        };
        if !labels.split(',').any(|l| l == label) {
            continue;
        }
        let le = labels
            .split(',')
            .find_map(|l| l.strip_prefix("le=\""))
            .and_then(|l| l.strip_suffix('"'));
        if let (Some(key), Ok(count)) = (le.and_then(bound_key), value.trim().parse::<f64>()) {
            found.insert(key, count);
        }
    }
    Buckets(found)
}

/// The lag between two readings of the same histogram.
pub fn between(consumer: &str, before: &Buckets, after: &Buckets) -> Lag {
    let delta: Vec<(u64, f64)> = after
        .0
        .iter()
        .map(|(&le, &count)| (le, count - before.0.get(&le).copied().unwrap_or(0.0)))
        .collect();
    let total = delta.last().map(|&(_, count)| count).unwrap_or(0.0);
    let quantile = |q: f64| -> Option<f64> {
        if total <= 0.0 {
            return None;
        }
        let rank = q * total;
        delta
            .iter()
            .find(|&&(_, count)| count >= rank)
            .map(|&(le, _)| {
                if le == u64::MAX {
                    f64::INFINITY
                } else {
                    le as f64 / 1e6
                }
            })
    };
    Lag {
        consumer: consumer.to_owned(),
        events: total.max(0.0) as u64,
        p50_ms_at_most: quantile(0.5),
        p99_ms_at_most: quantile(0.99),
    }
}

/// The server's `/metrics` text; empty when it cannot be read (the figure is then left out).
pub async fn scrape(base: &str) -> String {
    match reqwest::get(format!("{base}/metrics")).await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = r#"boxoffice_consumer_lag_seconds_bucket{consumer="payments",le="0.001"} 10
boxoffice_consumer_lag_seconds_bucket{consumer="payments",le="0.005"} 10
boxoffice_consumer_lag_seconds_bucket{consumer="payments",le="+Inf"} 10
boxoffice_consumer_lag_seconds_bucket{consumer="orders",le="0.001"} 99
"#;
    const AFTER: &str = r#"boxoffice_consumer_lag_seconds_bucket{consumer="payments",le="0.001"} 60
boxoffice_consumer_lag_seconds_bucket{consumer="payments",le="0.005"} 108
boxoffice_consumer_lag_seconds_bucket{consumer="payments",le="+Inf"} 110
boxoffice_consumer_lag_seconds_bucket{consumer="orders",le="0.001"} 500
"#;

    #[test]
    fn quantiles_of_the_difference_are_bucket_bounds() {
        let lag = between(
            "payments",
            &buckets(BEFORE, "payments"),
            &buckets(AFTER, "payments"),
        );
        assert_eq!(lag.events, 100);
        assert_eq!(lag.p50_ms_at_most, Some(1.0), "50 of 100 within 1 ms");
        assert_eq!(
            lag.p99_ms_at_most,
            Some(f64::INFINITY),
            "2 beyond the last bound"
        );
    }

    #[test]
    fn nothing_recorded_gives_no_quantile() {
        let lag = between("payments", &Buckets::default(), &Buckets::default());
        assert_eq!((lag.events, lag.p50_ms_at_most), (0, None));
    }
}
