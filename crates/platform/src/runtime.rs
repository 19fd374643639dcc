//! Running a process's background work, and wiring services into it.
//!
//! * [`Supervisor`] — every background task (consumers, relays, timers, retriers) is
//!   spawned through it. A task that panics, fails or ends before shutdown is logged,
//!   counted in `/metrics` and turns `/readyz` unready, so an orchestrator replaces the
//!   instance instead of routing traffic to one that silently stopped working. Shutdown
//!   cancels every task and then waits for them.
//! * [`ServiceParts`] — what one service contributes to a process: documented routes,
//!   readiness probes, consumers, its outbox, its timers and the waiters for fresh ids
//!   of its replica. Each service crate builds
//!   its own; the composition root only chooses stores and calls [`launch`].

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use utoipa_axum::router::OpenApiRouter;

use crate::bus::EventBus;
use crate::consumer::{self, EventHandler, RetryPolicy};
use crate::fresh::FreshIds;
use crate::http::health::ReadinessProbe;
use crate::outbox::Relay;
use crate::store::Plumbing;

/// Spawns and watches a process's background tasks. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Supervisor {
    stop: CancellationToken,
    tracker: TaskTracker,
    /// Names of tasks that ended before shutdown, with why.
    dead: Arc<Mutex<Vec<String>>>,
}

impl Supervisor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancelled when shutdown starts; tasks stop when they see it.
    pub fn stopping(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Runs `task` in the background. It is expected to run until [`Self::stopping`] is
    /// cancelled; ending earlier — with an error, a panic or even `Ok` — marks it dead.
    pub fn spawn<F>(&self, name: impl Into<String>, task: F)
    where
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let name = name.into();
        let stop = self.stop.clone();
        let dead = Arc::clone(&self.dead);
        self.tracker.spawn(async move {
            let ended = AssertUnwindSafe(task).catch_unwind().await;
            if stop.is_cancelled() {
                if let Ok(Err(err)) = &ended {
                    tracing::warn!(task = %name, error = format!("{err:#}"), "background task failed while stopping");
                }
                return;
            }
            let why = match ended {
                Ok(Ok(())) => "ended before shutdown".to_owned(),
                Ok(Err(err)) => format!("failed: {err:#}"),
                Err(panic) => format!("panicked: {}", panic_message(panic.as_ref())),
            };
            tracing::error!(task = %name, %why, "background task died; the instance is no longer ready");
            metrics::counter!("background_task_deaths_total", "task" => name.clone()).increment(1);
            dead.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(format!("{name} {why}"));
        });
    }

    /// `/readyz` check: every background task is still running.
    pub fn probe(&self) -> Arc<dyn ReadinessProbe> {
        Arc::new(TasksProbe {
            dead: Arc::clone(&self.dead),
        })
    }

    /// Cancels every task and waits until all have returned.
    pub async fn shutdown(&self) {
        self.stop.cancel();
        self.tracker.close();
        self.tracker.wait().await;
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
    dead: Arc<Mutex<Vec<String>>>,
}

#[async_trait::async_trait]
impl ReadinessProbe for TasksProbe {
    fn name(&self) -> &str {
        "background-tasks"
    }

    async fn check(&self) -> anyhow::Result<()> {
        let dead = self
            .dead
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match dead.as_slice() {
            [] => Ok(()),
            dead => anyhow::bail!("{}", dead.join("; ")),
        }
    }
}

/// A long-running piece of a service, started with the supervisor's stop token.
pub type TaskStart =
    Box<dyn FnOnce(CancellationToken) -> BoxFuture<'static, anyhow::Result<()>> + Send>;

/// What one service contributes to a process.
pub struct ServiceParts {
    /// Its name in logs and task names, e.g. `orders`.
    pub name: &'static str,
    /// Its routes with their OpenAPI descriptions.
    pub api: OpenApiRouter,
    /// What `/readyz` must check for it.
    pub probes: Vec<Arc<dyn ReadinessProbe>>,
    /// Its event consumers.
    pub consumers: Vec<ConsumerSpec>,
    /// Its store's outbox, inbox and dead letters, and the notice the store gives after
    /// each commit that wrote to the outbox.
    pub events: Option<(Arc<dyn Plumbing>, Arc<Notify>)>,
    /// Its timers and retriers.
    pub tasks: Vec<(&'static str, TaskStart)>,
    /// The waiters for ids its replica has not applied yet, if it keeps a replica.
    pub fresh_ids: Option<FreshIds>,
}

impl std::fmt::Debug for ServiceParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceParts")
            .field("name", &self.name)
            .field("consumers", &self.consumers)
            .field(
                "tasks",
                &self.tasks.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl ServiceParts {
    /// A service with routes and probes only; add the rest with the builder methods.
    pub fn new(
        name: &'static str,
        api: OpenApiRouter,
        probes: Vec<Arc<dyn ReadinessProbe>>,
    ) -> Self {
        Self {
            name,
            api,
            probes,
            consumers: Vec::new(),
            events: None,
            tasks: Vec::new(),
            fresh_ids: None,
        }
    }

    /// Consumes events of `types` as the durable consumer `durable`.
    pub fn consumer(
        mut self,
        durable: &'static str,
        types: &'static [&'static str],
        handler: Arc<dyn EventHandler>,
    ) -> Self {
        self.consumers.push(ConsumerSpec {
            durable,
            types,
            handler,
        });
        self
    }

    /// Publishes the outbox of `store`, woken by `wake` after each commit.
    pub fn events(mut self, store: Arc<dyn Plumbing>, wake: Arc<Notify>) -> Self {
        self.events = Some((store, wake));
        self
    }

    /// Lets requests wait for fresh ids of its replica through `fresh` (kept in
    /// [`Launched::fresh_ids`] for the process and its tests to see).
    pub fn fresh_ids(mut self, fresh: FreshIds) -> Self {
        self.fresh_ids = Some(fresh);
        self
    }

    /// Runs `start(stop)` in the background for as long as the process runs.
    pub fn task<F, Fut>(mut self, name: &'static str, start: F) -> Self
    where
        F: FnOnce(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.tasks
            .push((name, Box::new(move |stop| Box::pin(start(stop)))));
        self
    }
}

/// A consumer a service asks for.
pub struct ConsumerSpec {
    pub durable: &'static str,
    pub types: &'static [&'static str],
    pub handler: Arc<dyn EventHandler>,
}

impl std::fmt::Debug for ConsumerSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsumerSpec")
            .field("durable", &self.durable)
            .field("types", &self.types)
            .finish_non_exhaustive()
    }
}

/// The routes and probes of the launched services, for the HTTP side of the process.
#[derive(Default)]
pub struct Launched {
    pub api: OpenApiRouter,
    pub probes: Vec<Arc<dyn ReadinessProbe>>,
    /// Each event-driven service's store and its consumers' names: what a test looks at
    /// to check that every outbox drained and nothing was dead-lettered.
    pub stores: Vec<LaunchedStore>,
    /// The fresh-id waiters of the services that keep replicas: their counters show how
    /// often and how long requests waited.
    pub fresh_ids: Vec<FreshIds>,
}

/// A launched service's event plumbing.
#[derive(Debug, Clone)]
pub struct LaunchedStore {
    pub service: &'static str,
    pub plumbing: Arc<dyn Plumbing>,
    pub consumers: Vec<&'static str>,
}

impl std::fmt::Debug for Launched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Launched")
            .field("probes", &self.probes.len())
            .finish_non_exhaustive()
    }
}

/// Starts the background work of `services` on `bus` under `supervisor`: every consumer
/// is subscribed before any relay publishes, so no event is published to nobody; then the
/// relays and the timers start. `bus` is `None` for a process whose services neither
/// consume nor publish events (auth alone).
pub async fn launch(
    services: Vec<ServiceParts>,
    bus: Option<Arc<dyn EventBus>>,
    supervisor: &Supervisor,
) -> anyhow::Result<Launched> {
    let mut launched = Launched::default();
    launched.probes.push(supervisor.probe());
    let mut later = Vec::new();
    for service in services {
        launched.api = std::mem::take(&mut launched.api).merge(service.api);
        launched.probes.extend(service.probes);
        launched.fresh_ids.extend(service.fresh_ids);
        let needs_bus = !service.consumers.is_empty() || service.events.is_some();
        if let Some((plumbing, _)) = &service.events {
            launched.stores.push(LaunchedStore {
                service: service.name,
                plumbing: Arc::clone(plumbing),
                consumers: service.consumers.iter().map(|c| c.durable).collect(),
            });
        }
        let bus = match (&bus, needs_bus) {
            (Some(bus), _) => Some(Arc::clone(bus)),
            (None, false) => None,
            (None, true) => anyhow::bail!("the {} service needs an event bus", service.name),
        };
        if let Some(bus) = &bus {
            for spec in service.consumers {
                let consumer = consumer::subscribe(
                    Arc::clone(bus),
                    spec.durable,
                    spec.types,
                    spec.handler,
                    RetryPolicy::default(),
                )
                .await?;
                supervisor.spawn(
                    format!("consumer {}", spec.durable),
                    consumer.run(supervisor.stopping()),
                );
            }
        }
        later.push((service.name, bus, service.events, service.tasks));
    }
    for (name, bus, events, tasks) in later {
        if let (Some(bus), Some((store, wake))) = (bus, events) {
            let relay = Relay::new(name, store.outbox(), bus, wake);
            let stop = supervisor.stopping();
            supervisor.spawn(format!("relay {name}"), async move {
                relay.run(stop).await;
                Ok(())
            });
        }
        for (task, start) in tasks {
            supervisor.spawn(format!("{name} {task}"), start(supervisor.stopping()));
        }
    }
    Ok(launched)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_task_that_dies_turns_readiness_off_and_shutdown_waits_for_the_rest() {
        let supervisor = Supervisor::new();
        let probe = supervisor.probe();
        let finished = Arc::new(Notify::new());
        let stop = supervisor.stopping();
        let done = Arc::clone(&finished);
        supervisor.spawn("patient", async move {
            stop.cancelled().await;
            done.notify_one();
            Ok(())
        });
        assert!(probe.check().await.is_ok(), "nothing has died yet");

        let (died_tx, died_rx) = tokio::sync::oneshot::channel::<()>();
        supervisor.spawn("fragile", async move {
            drop(died_tx);
            panic!("boom");
        });
        let _ = died_rx.await;
        let report = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            loop {
                match probe.check().await {
                    Err(err) => break format!("{err:#}"),
                    Ok(()) => tokio::task::yield_now().await,
                }
            }
        })
        .await
        .expect("the death is reported");
        assert!(report.contains("fragile panicked: boom"), "{report}");

        supervisor.shutdown().await;
        tokio::time::timeout(std::time::Duration::from_secs(1), finished.notified())
            .await
            .expect("the patient task saw the stop before shutdown returned");
    }

    #[tokio::test]
    async fn tasks_that_end_during_shutdown_are_not_reported() {
        let supervisor = Supervisor::new();
        let stop = supervisor.stopping();
        supervisor.spawn("worker", async move {
            stop.cancelled().await;
            anyhow::bail!("interrupted")
        });
        supervisor.shutdown().await;
        assert!(supervisor.probe().check().await.is_ok());
    }
}
