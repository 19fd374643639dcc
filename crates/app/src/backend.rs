//! Where the services keep their state and how they talk: chosen once, up front.
//!
//! The embedded mode puts every service on its own SQLite file and an in-process bus;
//! the distributed mode puts one service on PostgreSQL (the queue on Redis) and NATS
//! JetStream. Every setting a mode needs is checked here before anything connects, so a
//! misconfigured process says what is missing at once instead of half-starting.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use boxoffice_platform::Secret;
use boxoffice_platform::bus::{EventBus, InProcessBus, NatsBus};
use boxoffice_platform::db::{postgres, sqlite::SqliteDb};
use boxoffice_platform::http::health::ReadinessProbe;
use sqlx::PgPool;

use crate::cli::{Service, Settings};

/// The JetStream stream every event is stored in, and its subjects' prefix.
const EVENT_STREAM: &str = "BOXOFFICE";
const EVENT_SUBJECT_PREFIX: &str = "boxoffice";

/// The mode's settings, complete and checked.
#[derive(Debug, Clone)]
pub enum Backend {
    /// Every service in this process, each on `dir/<service>.db`.
    Embedded { dir: PathBuf },
    /// One service on its own PostgreSQL database (`pg`), NATS (`nats`) and, for the
    /// queue, Redis (`redis`). Each is `Some` exactly when the service needs it (the
    /// queue's PostgreSQL, which keeps its waiting rooms, when it is given one).
    Distributed {
        pg: Option<Secret>,
        nats: Option<String>,
        redis: Option<(Secret, String)>,
    },
}

impl Backend {
    /// The embedded mode's backend; creates `DATA_DIR`.
    pub fn embedded(settings: &Settings) -> anyhow::Result<Self> {
        let dir = settings.data_dir.clone();
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("creating DATA_DIR {}", dir.display()))?;
        Ok(Self::Embedded { dir })
    }

    /// The backend `serve <service>` needs, or what is missing for it.
    pub fn distributed(service: Service, settings: &Settings) -> anyhow::Result<Self> {
        // Every service exchanges events: auth publishes ended sessions, and every other
        // service (auth's replicas too) follows them.
        let nats = match &settings.nats_url {
            Some(url) => Some(url.clone()),
            None => anyhow::bail!(
                "NATS_URL is required for `boxoffice serve` (services exchange events through it)"
            ),
        };
        if service == Service::Payments && settings.stripe_webhook_secret.is_none() {
            // Replicas must agree on the secret the test processor signs with.
            anyhow::bail!("STRIPE_WEBHOOK_SECRET is required for `boxoffice serve payments`");
        }
        let (pg, redis) = if service == Service::Queue {
            let url = settings
                .redis_url
                .clone()
                .context("REDIS_URL is required for `boxoffice serve queue`")?;
            // The lines live in Redis; the waiting rooms in PostgreSQL, when given one.
            (
                settings.database_url.clone(),
                Some((url, settings.redis_prefix.clone())),
            )
        } else {
            (Some(database_url(settings)?.clone()), None)
        };
        Ok(Self::Distributed { pg, nats, redis })
    }

    /// The event bus of this mode, and its readiness probe (NATS only).
    pub async fn bus(
        &self,
    ) -> anyhow::Result<Option<(Arc<dyn EventBus>, Option<Arc<dyn ReadinessProbe>>)>> {
        match self {
            Self::Embedded { .. } => Ok(Some((Arc::new(InProcessBus::new()), None))),
            Self::Distributed { nats: None, .. } => Ok(None),
            Self::Distributed {
                nats: Some(url), ..
            } => {
                let nats = NatsBus::connect(url, EVENT_STREAM, EVENT_SUBJECT_PREFIX).await?;
                let probe: Arc<dyn ReadinessProbe> = Arc::new(NatsProbe(nats.clone()));
                Ok(Some((Arc::new(nats), Some(probe))))
            }
        }
    }

    /// The relational database of `service` in this mode.
    pub async fn database(&self, service: Service) -> anyhow::Result<Database> {
        match self {
            Self::Embedded { dir } => {
                let path = dir.join(format!("{}.db", service.name()));
                Ok(Database::Sqlite(SqliteDb::open(&path).await?))
            }
            Self::Distributed { pg: Some(url), .. } => {
                Ok(Database::Postgres(postgres::connect(url.expose()).await?))
            }
            Self::Distributed { pg: None, .. } => {
                anyhow::bail!("the {} service has no relational database", service.name())
            }
        }
    }
}

/// A service's relational database in the chosen mode.
#[derive(Debug)]
pub enum Database {
    Sqlite(SqliteDb),
    Postgres(PgPool),
}

/// `DATABASE_URL`, or what to do about its absence.
pub fn database_url(settings: &Settings) -> anyhow::Result<&Secret> {
    settings
        .database_url
        .as_ref()
        .context("DATABASE_URL is required for this command (postgres://…)")
}

/// `/readyz` check: the event stream answers.
struct NatsProbe(NatsBus);

#[async_trait::async_trait]
impl ReadinessProbe for NatsProbe {
    fn name(&self) -> &str {
        "nats"
    }

    async fn check(&self) -> anyhow::Result<()> {
        self.0.ping().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings::for_data_dir("unused")
    }

    #[test]
    fn serve_names_the_setting_it_lacks_before_connecting() {
        let err = Backend::distributed(Service::Orders, &settings()).expect_err("no NATS");
        assert!(format!("{err}").contains("NATS_URL"), "{err}");

        let mut with_nats = settings();
        with_nats.nats_url = Some("nats://127.0.0.1:1".to_owned());
        let err = Backend::distributed(Service::Orders, &with_nats).expect_err("no database");
        assert!(format!("{err}").contains("DATABASE_URL"), "{err}");
        let err = Backend::distributed(Service::Queue, &with_nats).expect_err("no Redis");
        assert!(format!("{err}").contains("REDIS_URL"), "{err}");

        let mut auth = settings();
        auth.database_url = Some(Secret::new("postgres://127.0.0.1/auth"));
        let err = Backend::distributed(Service::Auth, &auth).expect_err("no NATS");
        assert!(format!("{err}").contains("NATS_URL"), "{err}");
        auth.nats_url = Some("nats://127.0.0.1:1".to_owned());
        assert!(matches!(
            Backend::distributed(Service::Auth, &auth),
            Ok(Backend::Distributed {
                pg: Some(_),
                nats: Some(_),
                redis: None
            })
        ));
    }
}
