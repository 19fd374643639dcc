//! Composition root: builds a ready-to-serve application from settings.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::routing::get;
use boxoffice_auth::AuthService;
use boxoffice_auth::store::{PostgresUserStore, SqliteUserStore};
use boxoffice_common::{Clock, SystemClock};
use boxoffice_expiration::scheduler::Scheduler;
use boxoffice_expiration::store::{JobStore, PostgresJobStore, SqliteJobStore};
use boxoffice_orders::OrdersService;
use boxoffice_orders::store::{OrderStore, PostgresOrderStore, SqliteOrderStore};
use boxoffice_payments::PaymentsService;
use boxoffice_payments::gateway::PaymentGateway;
use boxoffice_payments::gateway::stripe::StripeGateway;
use boxoffice_payments::gateway::test_processor::TestProcessor;
use boxoffice_payments::refunds::RefundRetrier;
use boxoffice_payments::store::{PaymentStore, PostgresPaymentStore, SqlitePaymentStore};
use boxoffice_platform::Secret;
use boxoffice_platform::bus::{EventBus, InProcessBus, NatsBus};
use boxoffice_platform::consumer::{self, EventHandler};
use boxoffice_platform::db::{postgres, sqlite::SqliteDb};
use boxoffice_platform::http::health::{self, ReadinessProbe};
use boxoffice_platform::http::{SessionKeys, serve, stack};
use boxoffice_platform::outbox::{OutboxStore, Relay};
use boxoffice_queue::domain::Rules;
use boxoffice_queue::scheduler::TurnTimer;
use boxoffice_queue::service::QueueService;
use boxoffice_queue::store::{QueueStore, RedisQueueStore, SqliteQueueStore};
use boxoffice_tickets::TicketsService;
use boxoffice_tickets::store::{PostgresTicketStore, SqliteTicketStore, TicketStore};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;

use crate::cli::{Service, Settings};
use crate::{keys, openapi};

/// A bound listener, the router it will serve, and the background work (relays,
/// consumers, the expiration worker) that stops with it.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    router: Router,
    address: SocketAddr,
    background: CancellationToken,
}

/// What the services contribute: documented routes and readiness probes.
#[derive(Default)]
struct Parts {
    api: OpenApiRouter,
    probes: Vec<Arc<dyn ReadinessProbe>>,
}

impl Parts {
    fn add(&mut self, api: OpenApiRouter, probe: Arc<dyn ReadinessProbe>) {
        self.api = std::mem::take(&mut self.api).merge(api);
        self.probes.push(probe);
    }
}

/// Starts the background work of the event-driven services on `bus`. Consumers are
/// subscribed before any relay publishes, so no event is published to nobody.
struct Wiring {
    bus: Arc<dyn EventBus>,
    stop: CancellationToken,
    relays: Vec<Relay>,
}

impl Wiring {
    async fn consume(
        &self,
        durable: &'static str,
        types: &[&'static str],
        handler: Arc<dyn EventHandler>,
    ) -> anyhow::Result<()> {
        consumer::run(
            Arc::clone(&self.bus),
            durable,
            types,
            handler,
            consumer::RetryPolicy::default(),
            self.stop.clone(),
        )
        .await
    }

    fn relay(&mut self, name: &str, outbox: Arc<dyn OutboxStore>, wake: Arc<Notify>) {
        self.relays
            .push(Relay::new(name, outbox, Arc::clone(&self.bus), wake));
    }

    fn start_relays(self) {
        for relay in self.relays {
            tokio::spawn(relay.run(self.stop.clone()));
        }
    }
}

impl Application {
    /// Every service in one process, each on its own SQLite file under `DATA_DIR`,
    /// talking through the in-process bus.
    pub async fn embedded(settings: &Settings) -> anyhow::Result<Self> {
        let dir = &settings.data_dir;
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating DATA_DIR {}", dir.display()))?;
        let key = match &settings.jwt_key {
            Some(key) => {
                keys::check_key(key)?;
                key.clone()
            }
            None => keys::load_or_create(dir, keys::SESSION_KEY_FILE)?,
        };
        let sessions = session_keys(&key, settings);
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let open = |name: &str| {
            let path = dir.join(format!("{name}.db"));
            async move { SqliteDb::open(&path).await }
        };
        let mut parts = Parts::default();

        let auth = AuthService::new(
            Arc::new(SqliteUserStore::open(open("auth").await?).await?),
            sessions.clone(),
            Arc::clone(&clock),
        );
        parts.add(
            boxoffice_auth::router(auth.clone()),
            boxoffice_auth::readiness_probe(&auth),
        );

        let stop = CancellationToken::new();
        let mut wiring = Wiring {
            bus: Arc::new(InProcessBus::new()),
            stop: stop.clone(),
            relays: Vec::new(),
        };

        let wake = Arc::new(Notify::new());
        let tickets: Arc<dyn TicketStore> =
            Arc::new(SqliteTicketStore::open(open("tickets").await?, Arc::clone(&wake)).await?);
        wire_tickets(&mut wiring, &mut parts, tickets, wake, &clock).await?;

        let wake = Arc::new(Notify::new());
        let orders: Arc<dyn OrderStore> =
            Arc::new(SqliteOrderStore::open(open("orders").await?, Arc::clone(&wake)).await?);
        wire_orders(&mut wiring, &mut parts, orders, wake, &clock, settings).await?;

        let wake = Arc::new(Notify::new());
        let jobs: Arc<dyn JobStore> =
            Arc::new(SqliteJobStore::open(open("expiration").await?, Arc::clone(&wake)).await?);
        wire_expiration(&mut wiring, &mut parts, jobs, wake, &clock).await?;

        let wake = Arc::new(Notify::new());
        let payments: Arc<dyn PaymentStore> =
            Arc::new(SqlitePaymentStore::open(open("payments").await?, Arc::clone(&wake)).await?);
        let webhook_secret = match &settings.stripe_webhook_secret {
            Some(secret) => secret.clone(),
            None if settings.stripe_key.is_none() => {
                keys::load_or_create(dir, keys::WEBHOOK_KEY_FILE)?
            }
            None => anyhow::bail!("STRIPE_WEBHOOK_SECRET is required with STRIPE_KEY"),
        };
        wire_payments(
            &mut wiring,
            &mut parts,
            payments,
            wake,
            &clock,
            settings,
            webhook_secret,
        )
        .await?;

        let wake = Arc::new(Notify::new());
        let queue: Arc<dyn QueueStore> =
            Arc::new(SqliteQueueStore::open(open("queue").await?, Arc::clone(&wake)).await?);
        wire_queue(&mut wiring, &mut parts, queue, wake, &clock, settings).await?;

        wiring.start_relays();
        Self::assemble(parts, sessions, settings, "embedded", stop).await
    }

    /// One service alone on PostgreSQL, as in the distributed mode.
    pub async fn service(service: Service, settings: &Settings) -> anyhow::Result<Self> {
        let key = settings
            .jwt_key
            .as_ref()
            .context("JWT_KEY is required for `boxoffice serve` (every service must share it)")?;
        keys::check_key(key)?;
        let sessions = session_keys(key, settings);
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let mut parts = Parts::default();
        match service {
            Service::Auth => {
                let pool = postgres::connect(database_url(settings)?.expose()).await?;
                let auth = AuthService::new(
                    Arc::new(PostgresUserStore::open(pool).await?),
                    sessions.clone(),
                    clock,
                );
                parts.add(
                    boxoffice_auth::router(auth.clone()),
                    boxoffice_auth::readiness_probe(&auth),
                );
            }
            Service::Tickets
            | Service::Orders
            | Service::Expiration
            | Service::Payments
            | Service::Queue => {
                let url = settings.nats_url.as_deref().context(
                    "NATS_URL is required for `boxoffice serve` of an event-driven service",
                )?;
                if service == Service::Queue && settings.redis_url.is_none() {
                    anyhow::bail!("REDIS_URL is required for `boxoffice serve queue`");
                }
                let pool = match service {
                    Service::Queue => None,
                    _ => Some(postgres::connect(database_url(settings)?.expose()).await?),
                };
                let nats = NatsBus::connect(url, EVENT_STREAM, EVENT_SUBJECT_PREFIX).await?;
                parts.probes.push(Arc::new(NatsProbe(nats.clone())));
                let stop = CancellationToken::new();
                let mut wiring = Wiring {
                    bus: Arc::new(nats),
                    stop: stop.clone(),
                    relays: Vec::new(),
                };
                let wake = Arc::new(Notify::new());
                match (service, pool) {
                    (Service::Queue, _) => {
                        let url = settings
                            .redis_url
                            .as_ref()
                            .context("REDIS_URL is required for `boxoffice serve queue`")?;
                        let store = Arc::new(
                            RedisQueueStore::connect(
                                url.expose(),
                                &settings.redis_prefix,
                                Arc::clone(&wake),
                                stop.clone(),
                            )
                            .await?,
                        );
                        wire_queue(&mut wiring, &mut parts, store, wake, &clock, settings).await?;
                    }
                    (_, None) => anyhow::bail!("no database for {}", service.name()),
                    (Service::Tickets, Some(pool)) => {
                        let store =
                            Arc::new(PostgresTicketStore::open(pool, Arc::clone(&wake)).await?);
                        wire_tickets(&mut wiring, &mut parts, store, wake, &clock).await?;
                    }
                    (Service::Orders, Some(pool)) => {
                        let store =
                            Arc::new(PostgresOrderStore::open(pool, Arc::clone(&wake)).await?);
                        wire_orders(&mut wiring, &mut parts, store, wake, &clock, settings).await?;
                    }
                    (Service::Expiration, Some(pool)) => {
                        let store =
                            Arc::new(PostgresJobStore::open(pool, Arc::clone(&wake)).await?);
                        wire_expiration(&mut wiring, &mut parts, store, wake, &clock).await?;
                    }
                    (Service::Auth, _) => anyhow::bail!("the auth service consumes no events"),
                    (Service::Payments, Some(pool)) => {
                        // Replicas must agree on the secret the test processor signs with.
                        let secret = settings.stripe_webhook_secret.clone().context(
                            "STRIPE_WEBHOOK_SECRET is required for `boxoffice serve payments`",
                        )?;
                        let store =
                            Arc::new(PostgresPaymentStore::open(pool, Arc::clone(&wake)).await?);
                        wire_payments(
                            &mut wiring,
                            &mut parts,
                            store,
                            wake,
                            &clock,
                            settings,
                            secret,
                        )
                        .await?;
                    }
                }
                wiring.start_relays();
                return Self::assemble(parts, sessions, settings, service.name(), stop).await;
            }
        }
        Self::assemble(
            parts,
            sessions,
            settings,
            service.name(),
            CancellationToken::new(),
        )
        .await
    }

    async fn assemble(
        parts: Parts,
        sessions: SessionKeys,
        settings: &Settings,
        mode: &str,
        background: CancellationToken,
    ) -> anyhow::Result<Self> {
        let (api, spec) = OpenApiRouter::with_openapi(openapi::base())
            .merge(parts.api)
            .split_for_parts();
        let spec = Arc::new(spec);
        let router = api
            .route(
                openapi::OPENAPI_PATH,
                get(move || {
                    let spec = Arc::clone(&spec);
                    async move { axum::Json(spec) }
                }),
            )
            .merge(health::router(Arc::new(parts.probes)));
        let router = stack::apply(router, sessions);

        let listener = TcpListener::bind((settings.host.as_str(), settings.port))
            .await
            .with_context(|| format!("binding {}:{}", settings.host, settings.port))?;
        let address = listener.local_addr()?;
        tracing::info!(%address, mode, "BoxOffice listening on http://{address}");
        Ok(Self {
            listener,
            router,
            address,
            background,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until `shutdown` completes, drains in-flight requests, then stops the
    /// background work. Events not yet confirmed stay in their outboxes for next time.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let served = serve::serve(self.listener, self.router, shutdown).await;
        self.background.cancel();
        served?;
        tracing::info!("stopped");
        Ok(())
    }
}

async fn wire_tickets(
    wiring: &mut Wiring,
    parts: &mut Parts,
    store: Arc<dyn TicketStore>,
    wake: Arc<Notify>,
    clock: &Arc<dyn Clock>,
) -> anyhow::Result<()> {
    use boxoffice_tickets::events::{CONSUMER, OrderEvents, SUBSCRIBES_TO};
    let service = TicketsService::new(Arc::clone(&store), Arc::clone(clock));
    parts.add(
        boxoffice_tickets::router(service.clone()),
        boxoffice_tickets::readiness_probe(&service),
    );
    let handler = Arc::new(OrderEvents::new(Arc::clone(&store), Arc::clone(clock)));
    wiring.consume(CONSUMER, SUBSCRIBES_TO, handler).await?;
    wiring.relay("tickets", store.outbox(), wake);
    Ok(())
}

async fn wire_orders(
    wiring: &mut Wiring,
    parts: &mut Parts,
    store: Arc<dyn OrderStore>,
    wake: Arc<Notify>,
    clock: &Arc<dyn Clock>,
    settings: &Settings,
) -> anyhow::Result<()> {
    use boxoffice_orders::events::{CONSUMER, OrdersEvents, SUBSCRIBES_TO};
    let service = OrdersService::new(
        Arc::clone(&store),
        Arc::clone(clock),
        settings.expiration_window(),
    );
    parts.add(
        boxoffice_orders::router(service.clone()),
        boxoffice_orders::readiness_probe(&service),
    );
    let handler = Arc::new(OrdersEvents::new(
        Arc::clone(&store),
        Arc::clone(clock),
        settings.payment_hold_ceiling(),
    ));
    wiring.consume(CONSUMER, SUBSCRIBES_TO, handler).await?;
    wiring.relay("orders", store.outbox(), wake);
    Ok(())
}

async fn wire_expiration(
    wiring: &mut Wiring,
    parts: &mut Parts,
    store: Arc<dyn JobStore>,
    wake: Arc<Notify>,
    clock: &Arc<dyn Clock>,
) -> anyhow::Result<()> {
    use boxoffice_expiration::events::{CONSUMER, OrderEvents, SUBSCRIBES_TO};
    parts
        .probes
        .push(boxoffice_expiration::readiness_probe(Arc::clone(&store)));
    let scheduled = Arc::new(Notify::new());
    let handler = Arc::new(OrderEvents::new(Arc::clone(&store), Arc::clone(&scheduled)));
    wiring.consume(CONSUMER, SUBSCRIBES_TO, handler).await?;
    wiring.relay("expiration", store.outbox(), wake);
    let scheduler = Scheduler::new(store, Arc::clone(clock), scheduled);
    tokio::spawn(scheduler.run(wiring.stop.clone()));
    Ok(())
}

async fn wire_payments(
    wiring: &mut Wiring,
    parts: &mut Parts,
    store: Arc<dyn PaymentStore>,
    wake: Arc<Notify>,
    clock: &Arc<dyn Clock>,
    settings: &Settings,
    webhook_secret: Secret,
) -> anyhow::Result<()> {
    use boxoffice_payments::events::{CONSUMER, OrderEvents, SUBSCRIBES_TO};
    let gateway: Arc<dyn PaymentGateway> = match &settings.stripe_key {
        Some(key) => Arc::new(StripeGateway::new(
            key.clone(),
            settings.stripe_api_base.clone(),
        )?),
        None => Arc::new(TestProcessor::new(webhook_secret.clone())),
    };
    tracing::info!(gateway = gateway.name(), "payments configured");
    let service = PaymentsService::new(
        Arc::clone(&store),
        gateway,
        Arc::clone(clock),
        settings.currency.to_lowercase(),
        webhook_secret,
    );
    parts.add(
        boxoffice_payments::router(service.clone()),
        boxoffice_payments::readiness_probe(&service),
    );
    wiring
        .consume(
            CONSUMER,
            SUBSCRIBES_TO,
            Arc::new(OrderEvents::new(service.clone())),
        )
        .await?;
    wiring.relay("payments", store.outbox(), wake);
    tokio::spawn(RefundRetrier::new(service, REFUND_RETRY_EVERY).run(wiring.stop.clone()));
    Ok(())
}

async fn wire_queue(
    wiring: &mut Wiring,
    parts: &mut Parts,
    store: Arc<dyn QueueStore>,
    wake: Arc<Notify>,
    clock: &Arc<dyn Clock>,
    settings: &Settings,
) -> anyhow::Result<()> {
    use boxoffice_queue::events::{CONSUMER, QueueEvents, SUBSCRIBES_TO};
    let turn = time::Duration::try_from(settings.queue_turn()).context("QUEUE_TURN_SECONDS")?;
    let service = QueueService::new(Arc::clone(&store), Arc::clone(clock), Rules { turn });
    parts.add(
        boxoffice_queue::http::router(service.clone()),
        boxoffice_queue::readiness_probe(Arc::clone(&store)),
    );
    wiring
        .consume(
            CONSUMER,
            SUBSCRIBES_TO,
            Arc::new(QueueEvents::new(service.clone())),
        )
        .await?;
    wiring.relay("queue", store.outbox(), wake);
    tokio::spawn(TurnTimer::new(service).run(wiring.stop.clone()));
    Ok(())
}

/// How often refunds left half-way are tried again (also once at start).
const REFUND_RETRY_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// The JetStream stream every event is stored in, and its subjects' prefix.
const EVENT_STREAM: &str = "BOXOFFICE";
const EVENT_SUBJECT_PREFIX: &str = "boxoffice";

/// `/readyz` check: the event stream answers.
struct NatsProbe(NatsBus);

#[async_trait::async_trait]
impl ReadinessProbe for NatsProbe {
    fn name(&self) -> &str {
        "nats"
    }

    async fn check(&self) -> Result<(), String> {
        self.0.ping().await.map_err(|e| format!("{e:#}"))
    }
}

/// `boxoffice migrate <service>`: applies the service's PostgreSQL migrations.
pub async fn migrate(service: Service, settings: &Settings) -> anyhow::Result<()> {
    if service == Service::Queue {
        println!("the queue keeps its lines in Redis: there is no schema to migrate");
        return Ok(());
    }
    let pool = postgres::connect(database_url(settings)?.expose()).await?;
    match service {
        Service::Auth => PostgresUserStore::migrate(&pool).await?,
        Service::Tickets => PostgresTicketStore::migrate(&pool).await?,
        Service::Orders => PostgresOrderStore::migrate(&pool).await?,
        Service::Expiration => PostgresJobStore::migrate(&pool).await?,
        Service::Payments => PostgresPaymentStore::migrate(&pool).await?,
        Service::Queue => {}
    }
    tracing::info!(service = service.name(), "schema is up to date");
    Ok(())
}

/// `boxoffice republish <service> --since <time>`: marks the service's outbox rows sent
/// since `since` unsent, so its relay (in the running service) publishes them again.
pub async fn republish(service: Service, since: &str, settings: &Settings) -> anyhow::Result<()> {
    let since = time::OffsetDateTime::parse(since, &time::format_description::well_known::Rfc3339)
        .context("--since must be an RFC 3339 time, e.g. 2026-11-22T10:00:00Z")?;
    let outbox: Arc<dyn OutboxStore> = if service == Service::Queue {
        let url = settings
            .redis_url
            .as_ref()
            .context("REDIS_URL is required to republish the queue's events")?;
        let stop = CancellationToken::new();
        let store = RedisQueueStore::connect(
            url.expose(),
            &settings.redis_prefix,
            Arc::new(Notify::new()),
            stop.clone(),
        )
        .await?;
        stop.cancel();
        store.outbox()
    } else {
        let pool = postgres::connect(database_url(settings)?.expose()).await?;
        migrate(service, settings).await?;
        Arc::new(boxoffice_platform::outbox::postgres::PostgresOutbox::new(
            pool,
        ))
    };
    let rows = outbox.republish_since(since).await?;
    tracing::info!(
        service = service.name(),
        rows,
        "events queued for publication again"
    );
    println!(
        "{rows} events of {} will be published again",
        service.name()
    );
    Ok(())
}

fn session_keys(key: &Secret, settings: &Settings) -> SessionKeys {
    SessionKeys::new(key, settings.session_ttl(), settings.cookie_secure)
}

fn database_url(settings: &Settings) -> anyhow::Result<&Secret> {
    settings
        .database_url
        .as_ref()
        .context("DATABASE_URL is required for this command (postgres://…)")
}
