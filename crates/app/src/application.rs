//! Composition root: builds a ready-to-serve application from settings.
//!
//! The backend is chosen and checked first ([`Backend`]); each service is then built on
//! it ([`services::build`]) and launched under one [`Supervisor`], which owns every
//! background task of the process and stops them after the HTTP side has drained.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::routing::get;
use boxoffice_common::{Clock, SystemClock};
use boxoffice_platform::Secret;
use boxoffice_platform::bus::{EventBus, Subscription};
use boxoffice_platform::fresh::FreshIds;
use boxoffice_platform::http::revocation::{self, Revocations};
use boxoffice_platform::http::{SessionKeys, health, security, serve, shed, stack};
use boxoffice_platform::runtime::{self, Launched, LaunchedStore, Stage, Supervisor};
use tokio::net::TcpListener;
use utoipa_axum::router::OpenApiRouter;

use crate::backend::Backend;
use crate::cli::{Service, Settings};
use crate::services::{self, Shared};
use crate::{keys, openapi, web};

/// The services of the embedded mode, in the order they are built.
const EVERY_SERVICE: [Service; 6] = [
    Service::Auth,
    Service::Tickets,
    Service::Orders,
    Service::Expiration,
    Service::Payments,
    Service::Queue,
];

/// A bound listener, the router it will serve, and the supervisor of the background work
/// (relays, consumers, timers) that stops with it.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    router: Router,
    address: SocketAddr,
    supervisor: Supervisor,
    stores: Vec<LaunchedStore>,
    fresh_ids: Vec<FreshIds>,
}

impl Application {
    /// Every service in one process, each on its own SQLite file under `DATA_DIR`,
    /// talking through the in-process bus.
    pub async fn embedded(settings: &Settings) -> anyhow::Result<Self> {
        Self::embedded_with_bus(settings, |bus| bus).await
    }

    /// [`Self::embedded`] with its bus seen through `wrap`: how a test puts faults between
    /// the services and the bus (a relay whose publishing panics, a consumer that does).
    pub async fn embedded_with_bus(
        settings: &Settings,
        wrap: impl FnOnce(Arc<dyn EventBus>) -> Arc<dyn EventBus>,
    ) -> anyhow::Result<Self> {
        let backend = Backend::embedded(settings)?;
        let key = match (&settings.jwt_key, &backend) {
            (Some(key), _) => {
                keys::check_key(key)?;
                key.clone()
            }
            (None, Backend::Embedded { dir }) => keys::load_or_create(dir, keys::SESSION_KEY_FILE)?,
            (None, Backend::Distributed { .. }) => unreachable!("an embedded backend"),
        };
        Self::build(
            &EVERY_SERVICE,
            backend,
            key,
            settings,
            ("embedded", true),
            wrap,
        )
        .await
    }

    /// One service alone, as in the distributed mode.
    pub async fn service(service: Service, settings: &Settings) -> anyhow::Result<Self> {
        if service == Service::Web {
            return Self::pages_only(settings).await;
        }
        let key = settings
            .jwt_key
            .clone()
            .context("JWT_KEY is required for `boxoffice serve` (every service must share it)")?;
        keys::check_key(&key)?;
        let backend = Backend::distributed(service, settings)?;
        let unwrapped = |bus| bus;
        Self::build(
            &[service],
            backend,
            key,
            settings,
            (service.name(), false),
            unwrapped,
        )
        .await
    }

    async fn build(
        which: &[Service],
        backend: Backend,
        key: Secret,
        settings: &Settings,
        (mode, with_pages): (&str, bool),
        wrap_bus: impl FnOnce(Arc<dyn EventBus>) -> Arc<dyn EventBus>,
    ) -> anyhow::Result<Self> {
        // Bound first: a queue replica tells the others where it takes requests for the
        // rooms it runs.
        let listener = TcpListener::bind((settings.host.as_str(), settings.port))
            .await
            .with_context(|| format!("binding {}:{}", settings.host, settings.port))?;
        let address = listener.local_addr()?;
        let sessions = SessionKeys::new(&key, settings.session_ttl(), settings.cookie_secure);
        let shared = Shared {
            settings,
            sessions: sessions.clone(),
            clock: Arc::new(SystemClock) as Arc<dyn Clock>,
            address,
        };
        let bus = backend.bus().await?;
        let mut parts = Vec::with_capacity(which.len());
        for &service in which {
            parts.push(services::build(service, &backend, &shared).await?);
        }
        let supervisor = Supervisor::new();
        let (bus, bus_probe) = bus.unzip();
        let bus = bus.map(wrap_bus);
        if let Some(bus) = &bus {
            follow_ended_sessions(Arc::clone(bus), &sessions, &supervisor).await?;
        }
        let mut launched = runtime::launch(parts, bus, &supervisor).await?;
        launched.probes.extend(bus_probe.flatten());
        let stores = std::mem::take(&mut launched.stores);
        let fresh_ids = std::mem::take(&mut launched.fresh_ids);
        let api = http_side(
            launched,
            sessions,
            usize::from(settings.max_tickets_per_order),
        );
        let router = if with_pages {
            web::with_pages(api, settings)
        } else {
            api
        };
        let router = shed::apply(router, settings.max_in_flight_requests);
        let router = security::apply(router, web::security_policy(settings)?);

        tracing::info!(%address, mode, "BoxOffice listening on http://{address}");
        Ok(Self {
            listener,
            router,
            address,
            supervisor,
            stores,
            fresh_ids,
        })
    }

    /// `serve web`: the pages alone, calling the API through the ingress at `API_URL`.
    /// Nothing runs in the background; `/readyz` says whether the API answers.
    async fn pages_only(settings: &Settings) -> anyhow::Result<Self> {
        let url = settings
            .api_url
            .as_deref()
            .context("API_URL is required for `boxoffice serve web` (the ingress, e.g. http://127.0.0.1:8080)")?;
        let router = security::apply(
            shed::apply(
                web::pages_over_http(url, settings)?,
                settings.max_in_flight_requests,
            ),
            web::security_policy(settings)?,
        );
        let listener = TcpListener::bind((settings.host.as_str(), settings.port))
            .await
            .with_context(|| format!("binding {}:{}", settings.host, settings.port))?;
        let address = listener.local_addr()?;
        tracing::info!(%address, mode = "web", "BoxOffice listening on http://{address}");
        Ok(Self {
            listener,
            router,
            address,
            supervisor: Supervisor::new(),
            stores: Vec::new(),
            fresh_ids: Vec::new(),
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Each event-driven service's store and consumers — for tests that check every
    /// outbox drained and nothing was dead-lettered.
    pub fn stores(&self) -> &[LaunchedStore] {
        &self.stores
    }

    /// The waiters for fresh ids of `service`'s replica (`orders`, `queue`), if it runs
    /// here and keeps one — whose counters show how often and how long requests waited.
    pub fn fresh_ids(&self, service: Service) -> Option<FreshIds> {
        self.fresh_ids
            .iter()
            .find(|fresh| fresh.service() == service.name())
            .cloned()
    }

    /// The supervisor of the background work, e.g. for a test that kills a task.
    pub fn supervisor(&self) -> &Supervisor {
        &self.supervisor
    }

    /// Serves until `shutdown` completes, drains in-flight requests, then stops the
    /// background work and waits for it. Events not yet confirmed stay in their outboxes
    /// for next time.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let served = serve::serve(self.listener, self.router, shutdown).await;
        self.supervisor.shutdown().await;
        served?;
        tracing::info!("stopped");
        Ok(())
    }
}

/// How long a process waits at start for the sessions that ended while it was down.
const SESSION_REPLAY_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Feeds the process's table of ended sessions (shared by its services through
/// `sessions`) from the auth service's events, from one session lifetime back — replayed
/// from the stream before anything is served — on; then in the background, following
/// again the same way after a death.
async fn follow_ended_sessions(
    bus: Arc<dyn EventBus>,
    sessions: &SessionKeys,
    supervisor: &Supervisor,
) -> anyhow::Result<()> {
    let ttl = sessions.ttl();
    let revocations = sessions.revocations().clone();
    let mut first =
        Some(catch_up_ended_sessions(Arc::clone(&bus), ttl, revocations.clone()).await?);
    supervisor.supervise("sessions follower", Stage::Intake, move |stop| {
        let subscribed = first.take();
        let (bus, revocations) = (Arc::clone(&bus), revocations.clone());
        async move {
            let subscription = match subscribed {
                Some(subscription) => subscription,
                None => catch_up_ended_sessions(bus, ttl, revocations.clone()).await?,
            };
            revocation::follow(subscription, revocations, stop).await
        }
    });
    Ok(())
}

/// Follows the ended sessions' events from `ttl` back and applies those already waiting.
async fn catch_up_ended_sessions(
    bus: Arc<dyn EventBus>,
    ttl: std::time::Duration,
    revocations: Revocations,
) -> anyhow::Result<Box<dyn Subscription>> {
    let since = time::OffsetDateTime::now_utc() - ttl;
    let (mut subscription, pending) = bus
        .follow("sessions", revocation::SESSION_EVENTS, since)
        .await?;
    revocation::catch_up(
        &mut subscription,
        &revocations,
        pending,
        SESSION_REPLAY_LIMIT,
    )
    .await?;
    Ok(subscription)
}

/// The routes of every launched service, the OpenAPI document, health and metrics, behind
/// the standard middleware stack. `max_tickets` (`MAX_TICKETS_PER_ORDER`) is stated in the
/// document.
fn http_side(launched: Launched, sessions: SessionKeys, max_tickets: usize) -> Router {
    let (api, spec) = OpenApiRouter::with_openapi(openapi::base())
        .merge(launched.api)
        .split_for_parts();
    let spec = Arc::new(openapi::document(&spec, max_tickets));
    let router = api
        .route(
            openapi::OPENAPI_PATH,
            get(move || {
                let spec = Arc::clone(&spec);
                async move { axum::Json(spec) }
            }),
        )
        .merge(health::router(Arc::new(launched.probes)));
    stack::apply(router, sessions)
}
