//! Running a process's background work, and wiring services into it.
//!
//! * [`supervisor`] — every background task (consumers, relays, timers, retriers) runs
//!   under the [`Supervisor`]. A task that panics, fails or ends before shutdown is
//!   logged with its cause, counted in `/metrics`, reported by `/readyz` while it is down
//!   and started again after a pause that backs off. Shutdown stops the tasks in stages:
//!   consumers, then timers, then relays.
//! * [`ServiceParts`] — what one service contributes to a process: documented routes,
//!   readiness probes, consumers, its outbox, its timers and the waiters for fresh ids
//!   of its replica. Each service crate builds
//!   its own; the composition root only chooses stores and calls [`launch`].

mod supervisor;

use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;

pub use self::supervisor::{Backoff, Stage, Supervisor};

use crate::bus::EventBus;
use crate::consumer::{self, EventHandler, RetryPolicy};
use crate::fresh::FreshIds;
use crate::http::health::ReadinessProbe;
use crate::outbox::Relay;
use crate::store::Plumbing;

/// A long-running piece of a service, started with the supervisor's stop token — again
/// after each time it dies, so it is called once per run.
pub type TaskStart =
    Box<dyn FnMut(CancellationToken) -> BoxFuture<'static, anyhow::Result<()>> + Send>;

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
    /// Its stores' outboxes, inboxes and dead letters, each with the notice the store
    /// gives after each commit that wrote to its outbox: usually one store; a service
    /// whose parts keep state in two databases (the queue's rooms on PostgreSQL beside
    /// its lines on Redis) has one relay per outbox.
    pub events: Vec<(Arc<dyn Plumbing>, Arc<Notify>)>,
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
            events: Vec::new(),
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

    /// Publishes the outbox of `store`, woken by `wake` after each commit (once per
    /// store the service writes events to).
    pub fn events(mut self, store: Arc<dyn Plumbing>, wake: Arc<Notify>) -> Self {
        self.events.push((store, wake));
        self
    }

    /// Lets requests wait for fresh ids of its replica through `fresh` (kept in
    /// [`Launched::fresh_ids`] for the process and its tests to see).
    pub fn fresh_ids(mut self, fresh: FreshIds) -> Self {
        self.fresh_ids = Some(fresh);
        self
    }

    /// Runs `start(stop)` in the background for as long as the process runs, calling it
    /// again after each time the task dies.
    pub fn task<F, Fut>(mut self, name: &'static str, mut start: F) -> Self
    where
        F: FnMut(CancellationToken) -> Fut + Send + 'static,
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
        let needs_bus = !service.consumers.is_empty() || !service.events.is_empty();
        for (plumbing, _) in &service.events {
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
                supervise_consumer(bus, spec, supervisor).await?;
            }
        }
        later.push((service.name, bus, service.events, service.tasks));
    }
    for (name, bus, events, tasks) in later {
        for (index, (store, wake)) in events.into_iter().enumerate() {
            let Some(bus) = bus.clone() else { break };
            let outbox = store.outbox();
            let task = match index {
                0 => format!("relay {name}"),
                n => format!("relay {name} {}", n + 1),
            };
            supervisor.supervise(task, Stage::Publishing, move |stop| {
                let relay = Relay::new(
                    name,
                    Arc::clone(&outbox),
                    Arc::clone(&bus),
                    Arc::clone(&wake),
                );
                async move {
                    relay.run(stop).await;
                    Ok(())
                }
            });
        }
        for (task, start) in tasks {
            supervisor.supervise(format!("{name} {task}"), Stage::Timers, start);
        }
    }
    Ok(launched)
}

/// Subscribes the consumer `spec` asks for now — before any relay publishes, so no event
/// is published to nobody — and runs it under `supervisor`; after a death it subscribes
/// again. What the dead consumer had not acknowledged comes again: the in-process bus fails
/// the publisher's receipt, so the relay publishes it again; JetStream redelivers it after
/// its acknowledgement wait.
async fn supervise_consumer(
    bus: &Arc<dyn EventBus>,
    spec: ConsumerSpec,
    supervisor: &Supervisor,
) -> anyhow::Result<()> {
    let ConsumerSpec {
        durable,
        types,
        handler,
    } = spec;
    let subscribe = move |bus: Arc<dyn EventBus>, handler: Arc<dyn EventHandler>| {
        consumer::subscribe(bus, durable, types, handler, RetryPolicy::default())
    };
    let mut first = Some(subscribe(Arc::clone(bus), Arc::clone(&handler)).await?);
    let bus = Arc::clone(bus);
    supervisor.supervise(format!("consumer {durable}"), Stage::Intake, move |stop| {
        let subscribed = first.take();
        let again = (Arc::clone(&bus), Arc::clone(&handler));
        async move {
            let consumer = match subscribed {
                Some(consumer) => consumer,
                None => subscribe(again.0, again.1).await?,
            };
            consumer.run(stop).await
        }
    });
    Ok(())
}
