//! What happened during a run: every request's endpoint, status and latency.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::stats::percentile;

/// The status of an answer shed for load.
pub const SHED: u16 = 503;

/// Collects measurements from many tasks.
#[derive(Debug)]
pub struct Recorder {
    started: Instant,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    latencies: BTreeMap<&'static str, Vec<Duration>>,
    statuses: BTreeMap<(&'static str, u16), u64>,
    seconds: Vec<Second>,
}

#[derive(Debug, Default, Clone)]
struct Second {
    requests: u64,
    latencies: Vec<Duration>,
}

/// Latency summary of one endpoint.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointSummary {
    pub endpoint: String,
    /// Every answer, shed ones included.
    pub requests: u64,
    /// Answers shed for load (503), which the latencies leave out.
    pub shed: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// One second of the run.
#[derive(Debug, Clone, Serialize)]
pub struct TimelinePoint {
    pub second: u64,
    pub requests: u64,
    pub p99_ms: f64,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    pub fn new() -> Self {
        Self {
            started: Instant::now(),
            inner: Mutex::default(),
        }
    }

    /// A request answered. An answer shed for load (503) is counted but not timed: the
    /// latencies are those of the requests the server took on.
    pub fn record(&self, endpoint: &'static str, status: u16, latency: Duration) {
        let second = self.started.elapsed().as_secs() as usize;
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        *inner.statuses.entry((endpoint, status)).or_default() += 1;
        if inner.seconds.len() <= second {
            inner.seconds.resize(second + 1, Second::default());
        }
        inner.seconds[second].requests += 1;
        if status == SHED {
            return;
        }
        inner.latencies.entry(endpoint).or_default().push(latency);
        inner.seconds[second].latencies.push(latency);
    }

    /// A span a client lives through across several requests (e.g. from "order placed" to
    /// "payment succeeded"): summarised with the endpoints, but not a request, so it counts
    /// in neither the statuses nor the per-second throughput.
    pub fn record_span(&self, name: &'static str, latency: Duration) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.latencies.entry(name).or_default().push(latency);
    }

    /// Requests answered with `status` at `endpoint`.
    pub fn count(&self, endpoint: &str, status: u16) -> u64 {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner
            .statuses
            .iter()
            .filter(|((e, s), _)| *e == endpoint && *s == status)
            .map(|(_, n)| n)
            .sum()
    }

    /// Requests at `endpoint` the server took on, whatever it answered: a try shed for load
    /// (503) or lost in transport (recorded as status 0) is sent again by the client, so it
    /// is not an attempt of its own.
    pub fn requests(&self, endpoint: &str) -> u64 {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner
            .statuses
            .iter()
            .filter(|((e, s), _)| *e == endpoint && *s != SHED && *s != 0)
            .map(|(_, n)| n)
            .sum()
    }

    pub fn total_requests(&self) -> u64 {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.statuses.values().sum()
    }

    pub fn endpoints(&self) -> Vec<EndpointSummary> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner
            .latencies
            .iter()
            .map(|(endpoint, samples)| {
                let mut sorted = samples.clone();
                sorted.sort();
                let shed = inner
                    .statuses
                    .get(&(*endpoint, SHED))
                    .copied()
                    .unwrap_or_default();
                EndpointSummary {
                    endpoint: (*endpoint).to_owned(),
                    requests: sorted.len() as u64 + shed,
                    shed,
                    p50_ms: ms(percentile(&sorted, 50.0)),
                    p90_ms: ms(percentile(&sorted, 90.0)),
                    p99_ms: ms(percentile(&sorted, 99.0)),
                    max_ms: ms(percentile(&sorted, 100.0)),
                }
            })
            .collect()
    }

    /// `"endpoint status" → count`.
    pub fn statuses(&self) -> BTreeMap<String, u64> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner
            .statuses
            .iter()
            .map(|((endpoint, status), n)| (format!("{endpoint} {status}"), *n))
            .collect()
    }

    pub fn timeline(&self) -> Vec<TimelinePoint> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner
            .seconds
            .iter()
            .enumerate()
            .map(|(second, s)| {
                let mut sorted = s.latencies.clone();
                sorted.sort();
                TimelinePoint {
                    second: second as u64,
                    requests: s.requests,
                    p99_ms: ms(percentile(&sorted, 99.0)),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_summaries_follow_the_records() {
        let recorder = Recorder::new();
        for i in 1..=100 {
            recorder.record("GET /x", 200, Duration::from_millis(i));
        }
        recorder.record("GET /x", 404, Duration::from_millis(1));
        assert_eq!(recorder.count("GET /x", 200), 100);
        assert_eq!(recorder.requests("GET /x"), 101);
        let summary = &recorder.endpoints()[0];
        assert_eq!(summary.requests, 101);
        assert!(
            summary.p99_ms >= 98.0 && summary.max_ms == 100.0,
            "{summary:?}"
        );
        assert_eq!(
            recorder.timeline().iter().map(|p| p.requests).sum::<u64>(),
            101
        );
    }

    #[test]
    fn shed_answers_are_counted_but_not_timed() {
        let recorder = Recorder::new();
        recorder.record("POST /x", 201, Duration::from_millis(10));
        recorder.record("POST /x", SHED, Duration::from_micros(50));
        recorder.record("POST /x", SHED, Duration::from_micros(50));
        let summary = &recorder.endpoints()[0];
        assert_eq!((summary.requests, summary.shed), (3, 2));
        assert_eq!(summary.p50_ms, 10.0, "{summary:?}");
        assert_eq!(recorder.count("POST /x", SHED), 2);
        assert_eq!(
            recorder.requests("POST /x"),
            1,
            "shed tries are not attempts"
        );
    }
}
