//! Composition root: builds a ready-to-serve application from settings.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::routing::get;
use boxoffice_auth::AuthService;
use boxoffice_auth::store::{PostgresUserStore, SqliteUserStore};
use boxoffice_common::SystemClock;
use boxoffice_platform::Secret;
use boxoffice_platform::db::{postgres, sqlite::SqliteDb};
use boxoffice_platform::http::health::{self, ReadinessProbe};
use boxoffice_platform::http::{SessionKeys, serve, stack};
use tokio::net::TcpListener;
use utoipa_axum::router::OpenApiRouter;

use crate::cli::{Service, Settings};
use crate::{keys, openapi};

/// A bound listener and the router it will serve.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    router: Router,
    address: SocketAddr,
}

/// What a service contributes to an application: documented routes and readiness probes.
struct Parts {
    api: OpenApiRouter,
    probes: Vec<Arc<dyn ReadinessProbe>>,
}

impl Application {
    /// Every service in one process, on SQLite files under `DATA_DIR`.
    pub async fn embedded(settings: &Settings) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("creating DATA_DIR {}", settings.data_dir.display()))?;
        let key = match &settings.jwt_key {
            Some(key) => {
                keys::check_key(key)?;
                key.clone()
            }
            None => keys::load_or_create(&settings.data_dir)?,
        };
        let sessions = session_keys(&key, settings);

        let auth_db = SqliteDb::open(&settings.data_dir.join("auth.db")).await?;
        let auth = AuthService::new(
            Arc::new(SqliteUserStore::open(auth_db).await?),
            sessions.clone(),
            Arc::new(SystemClock),
        );
        let parts = Parts {
            api: boxoffice_auth::router(auth.clone()),
            probes: vec![boxoffice_auth::readiness_probe(&auth)],
        };
        Self::assemble(parts, sessions, settings, "embedded").await
    }

    /// One service alone on PostgreSQL, as in the distributed mode.
    pub async fn service(service: Service, settings: &Settings) -> anyhow::Result<Self> {
        let key = settings
            .jwt_key
            .as_ref()
            .context("JWT_KEY is required for `boxoffice serve` (every service must share it)")?;
        keys::check_key(key)?;
        let sessions = session_keys(key, settings);
        let pool = postgres::connect(database_url(settings)?.expose()).await?;
        let parts = match service {
            Service::Auth => {
                let auth = AuthService::new(
                    Arc::new(PostgresUserStore::open(pool).await?),
                    sessions.clone(),
                    Arc::new(SystemClock),
                );
                Parts {
                    api: boxoffice_auth::router(auth.clone()),
                    probes: vec![boxoffice_auth::readiness_probe(&auth)],
                }
            }
        };
        Self::assemble(parts, sessions, settings, service_name(service)).await
    }

    async fn assemble(
        parts: Parts,
        sessions: SessionKeys,
        settings: &Settings,
        mode: &str,
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
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until `shutdown` completes, then drains in-flight requests.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        serve::serve(self.listener, self.router, shutdown).await?;
        tracing::info!("stopped");
        Ok(())
    }
}

/// `boxoffice migrate <service>`: applies the service's PostgreSQL migrations.
pub async fn migrate(service: Service, settings: &Settings) -> anyhow::Result<()> {
    let pool = postgres::connect(database_url(settings)?.expose()).await?;
    match service {
        Service::Auth => PostgresUserStore::migrate(&pool).await?,
    }
    tracing::info!(service = service_name(service), "schema is up to date");
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

fn service_name(service: Service) -> &'static str {
    match service {
        Service::Auth => "auth",
    }
}
