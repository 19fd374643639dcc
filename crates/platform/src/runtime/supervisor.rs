//! The supervisor of a process's background work.
//!
//! Every long-running task — consumers, relays, timers, retriers, followers — runs under
//! it. A task that panics, fails or ends before shutdown is logged with its cause and
//! counted in `/metrics`; while it is down `/readyz` says so, and after a pause that
//! doubles with each death in a row (a task that ran for a while starts again from the
//! shortest) it is started again. A task that cannot be started again ([`Supervisor::spawn`])
//! stays dead, and the instance unready, until an orchestrator replaces it.
//!
//! Shutdown goes by [`Stage`]: first what takes work in (consumers), then what makes work
//! of time (timers, retriers), last what hands results on (relays) — so nothing writes to
//! an outbox once its relay has stopped, and what the relay had not published by then is
//! published at the next start (the outbox keeps it).

use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::FutureExt;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::http::health::ReadinessProbe;
use crate::telemetry::names::{TASK_DEATHS, TASK_RESTARTS};

/// When a task stops at shutdown, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Takes work in: event consumers and followers. Stopped first.
    Intake,
    /// Makes work of time: expiry timers, retriers, gauges.
    Timers,
    /// Hands results on: the outbox relays. Stopped last, after everything that writes to
    /// their outboxes.
    Publishing,
}

impl Stage {
    const IN_ORDER: [Stage; 3] = [Stage::Intake, Stage::Timers, Stage::Publishing];

    fn index(self) -> usize {
        self as usize
    }
}

/// How long a dead task waits before it is started again.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// The pause after a first death.
    pub first: Duration,
    /// The longest pause, however often the task dies.
    pub max: Duration,
    /// A task that ran this long before it died starts again after [`Self::first`].
    pub healthy_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            first: Duration::from_millis(100),
            max: Duration::from_secs(30),
            healthy_after: Duration::from_secs(60),
        }
    }
}

/// Spawns, watches and restarts a process's background tasks. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Supervisor {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    stops: [CancellationToken; 3],
    trackers: [TaskTracker; 3],
    backoff: Backoff,
    /// The tasks that are down now, with why.
    down: Mutex<BTreeMap<String, String>>,
}

impl Supervisor {
    pub fn new() -> Self {
        Self::default()
    }

    /// A supervisor that pauses as `backoff` says between a death and a restart.
    pub fn with_backoff(backoff: Backoff) -> Self {
        Self {
            inner: Arc::new(Inner {
                backoff,
                ..Inner::default()
            }),
        }
    }

    /// Cancelled when shutdown starts, for tasks of [`Stage::Intake`] and one-off tasks.
    pub fn stopping(&self) -> CancellationToken {
        self.stopping_at(Stage::Intake)
    }

    /// Cancelled when shutdown reaches `stage`.
    pub fn stopping_at(&self, stage: Stage) -> CancellationToken {
        self.inner.stops[stage.index()].clone()
    }

    /// Runs `task` once, in the background, stopped with [`Stage::Intake`]. It is expected
    /// to run until [`Self::stopping`] is cancelled; ending earlier — with an error, a
    /// panic or even `Ok` — marks it dead for good, since it cannot be started again.
    pub fn spawn<F>(&self, name: impl Into<String>, task: F)
    where
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let name = name.into();
        register(&name);
        let inner = Arc::clone(&self.inner);
        let stop = self.stopping();
        self.inner.trackers[Stage::Intake.index()].spawn(async move {
            let ended = AssertUnwindSafe(task).catch_unwind().await;
            if stop.is_cancelled() {
                log_failure_while_stopping(&name, &ended);
                return;
            }
            let why = cause(ended);
            tracing::error!(task = %name, %why, "background task died; the instance is no longer ready");
            metrics::counter!(TASK_DEATHS, "task" => name.clone()).increment(1);
            inner.mark_down(&name, format!("{name} {why}"));
        });
    }

    /// Runs `start(stop)` in the background for as long as the process runs, starting it
    /// again after each death (see the module documentation); `stop` is cancelled when
    /// shutdown reaches `stage`.
    pub fn supervise<F, Fut>(&self, name: impl Into<String>, stage: Stage, mut start: F)
    where
        F: FnMut(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let name = name.into();
        register(&name);
        let inner = Arc::clone(&self.inner);
        let stop = self.stopping_at(stage);
        self.inner.trackers[stage.index()].spawn(async move {
            let backoff = inner.backoff;
            let mut pause = backoff.first;
            loop {
                let began = tokio::time::Instant::now();
                // Starting is inside the guard too: a start that panics is a death like any.
                let ended = AssertUnwindSafe(async { start(stop.clone()).await })
                    .catch_unwind()
                    .await;
                if stop.is_cancelled() {
                    log_failure_while_stopping(&name, &ended);
                    return;
                }
                if began.elapsed() >= backoff.healthy_after {
                    pause = backoff.first;
                }
                let why = cause(ended);
                tracing::error!(task = %name, %why, restart_in = ?pause, "background task died; it is restarted after a pause");
                metrics::counter!(TASK_DEATHS, "task" => name.clone()).increment(1);
                inner.mark_down(&name, format!("{name} {why} (restarting in {pause:?})"));
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(pause) => {},
                }
                inner.mark_up(&name);
                metrics::counter!(TASK_RESTARTS, "task" => name.clone()).increment(1);
                tracing::info!(task = %name, "background task restarted");
                pause = (pause * 2).min(backoff.max);
            }
        });
    }

    /// `/readyz` check: no background task is down.
    pub fn probe(&self) -> Arc<dyn ReadinessProbe> {
        Arc::new(TasksProbe {
            inner: Arc::clone(&self.inner),
        })
    }

    /// Stops the tasks stage by stage ([`Stage`]), waiting for each stage's tasks to
    /// return before cancelling the next.
    pub async fn shutdown(&self) {
        for stage in Stage::IN_ORDER {
            self.inner.stops[stage.index()].cancel();
            let tracker = &self.inner.trackers[stage.index()];
            tracker.close();
            tracker.wait().await;
        }
    }
}

impl Inner {
    fn down(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, String>> {
        self.down.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn mark_down(&self, name: &str, why: String) {
        self.down().insert(name.to_owned(), why);
    }

    fn mark_up(&self, name: &str) {
        self.down().remove(name);
    }
}

/// Makes the task's counters appear in `/metrics` at zero from the start, so a dashboard
/// or an alert sees the first death as an increase.
fn register(name: &str) {
    crate::telemetry::metrics_handle();
    metrics::counter!(TASK_DEATHS, "task" => name.to_owned()).absolute(0);
    metrics::counter!(TASK_RESTARTS, "task" => name.to_owned()).absolute(0);
}

type Ended = Result<anyhow::Result<()>, Box<dyn std::any::Any + Send>>;

fn log_failure_while_stopping(name: &str, ended: &Ended) {
    match ended {
        Ok(Ok(())) => {}
        Ok(Err(err)) => {
            tracing::warn!(task = %name, error = format!("{err:#}"), "background task failed while stopping");
        }
        Err(panic) => {
            let panic = panic_message(panic.as_ref());
            tracing::error!(task = %name, %panic, "background task panicked while stopping");
        }
    }
}

/// Why a task ended, in words.
fn cause(ended: Ended) -> String {
    match ended {
        Ok(Ok(())) => "ended before shutdown".to_owned(),
        Ok(Err(err)) => format!("failed: {err:#}"),
        Err(panic) => format!("panicked: {}", panic_message(panic.as_ref())),
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-text panic".to_owned())
}

#[derive(Debug)]
struct TasksProbe {
    inner: Arc<Inner>,
}

#[async_trait::async_trait]
impl ReadinessProbe for TasksProbe {
    fn name(&self) -> &str {
        "background-tasks"
    }

    async fn check(&self) -> anyhow::Result<()> {
        let down = self.inner.down();
        if down.is_empty() {
            return Ok(());
        }
        anyhow::bail!("{}", down.values().cloned().collect::<Vec<_>>().join("; "))
    }
}

#[cfg(test)]
mod tests;
