//! Each service built on the chosen backend: its store opened on the right database,
//! then handed to the service crate's own `parts`, which knows its routes, probe,
//! consumers and timers. This file only chooses implementations.

use std::sync::Arc;

use anyhow::Context;
use boxoffice_auth::store::{PostgresUserStore, SqliteUserStore, UserStore};
use boxoffice_common::Clock;
use boxoffice_expiration::store::{JobStore, PostgresJobStore, SqliteJobStore};
use boxoffice_orders::store::{OrderStore, PostgresOrderStore, SqliteOrderStore};
use boxoffice_payments::store::{PaymentStore, PostgresPaymentStore, SqlitePaymentStore};
use boxoffice_platform::Secret;
use boxoffice_platform::fresh::{self, FreshIds};
use boxoffice_platform::http::SessionKeys;
use boxoffice_platform::http::admission::AdmissionKeys;
use boxoffice_platform::runtime::ServiceParts;
use boxoffice_queue::domain::Rules;
use boxoffice_queue::room::store::PostgresRoomStore;
use boxoffice_queue::store::{QueueStore, RedisQueueStore, SqliteQueueStore};
use boxoffice_queue::{RoomPart, SharedRooms};
use boxoffice_tickets::store::{PostgresTicketStore, SqliteTicketStore, TicketStore};
use tokio::sync::Notify;

use crate::backend::{Backend, Database};
use crate::cli::{Service, Settings};
use crate::keys;

/// What every service may need besides its store.
#[derive(Debug)]
pub struct Shared<'a> {
    pub settings: &'a Settings,
    pub sessions: SessionKeys,
    pub clock: Arc<dyn Clock>,
    /// The address this process serves on.
    pub address: std::net::SocketAddr,
}

/// Builds `service` on `backend`.
pub async fn build(
    service: Service,
    backend: &Backend,
    shared: &Shared<'_>,
) -> anyhow::Result<ServiceParts> {
    let clock = Arc::clone(&shared.clock);
    let settings = shared.settings;
    let wake = Arc::new(Notify::new());
    Ok(match service {
        Service::Auth => {
            let store: Arc<dyn UserStore> = match backend.database(service).await? {
                Database::Sqlite(db) => {
                    Arc::new(SqliteUserStore::open(db, Arc::clone(&wake)).await?)
                }
                Database::Postgres(pool) => {
                    Arc::new(PostgresUserStore::open(pool, Arc::clone(&wake)).await?)
                }
            };
            boxoffice_auth::parts(store, shared.sessions.clone(), clock, wake).await?
        }
        Service::Tickets => {
            let store: Arc<dyn TicketStore> = match backend.database(service).await? {
                Database::Sqlite(db) => {
                    Arc::new(SqliteTicketStore::open(db, Arc::clone(&wake)).await?)
                }
                Database::Postgres(pool) => {
                    Arc::new(PostgresTicketStore::open(pool, Arc::clone(&wake)).await?)
                }
            };
            boxoffice_tickets::parts(store, wake, clock)
        }
        Service::Orders => {
            let fresh = FreshIds::new(service.name(), settings.fresh_id_wait());
            let (store, listen_on): (Arc<dyn OrderStore>, _) =
                match backend.database(service).await? {
                    Database::Sqlite(db) => (
                        Arc::new(SqliteOrderStore::open(db, Arc::clone(&wake)).await?),
                        None,
                    ),
                    Database::Postgres(pool) => (
                        Arc::new(PostgresOrderStore::open(pool.clone(), Arc::clone(&wake)).await?),
                        Some(pool),
                    ),
                };
            let config = boxoffice_orders::Config {
                expiration_window: settings.expiration_window(),
                payment_hold_ceiling: settings.payment_hold_ceiling(),
                max_tickets_per_order: usize::from(settings.max_tickets_per_order),
            };
            let admissions = admission_keys(backend, settings)?;
            let parts =
                boxoffice_orders::parts(store, wake, clock, config, fresh.clone(), admissions);
            with_fresh_id_listener(parts, listen_on, fresh)
        }
        Service::Expiration => {
            let store: Arc<dyn JobStore> = match backend.database(service).await? {
                Database::Sqlite(db) => {
                    Arc::new(SqliteJobStore::open(db, Arc::clone(&wake)).await?)
                }
                Database::Postgres(pool) => {
                    Arc::new(PostgresJobStore::open(pool, Arc::clone(&wake)).await?)
                }
            };
            boxoffice_expiration::parts(store, wake, clock)
        }
        Service::Payments => {
            let webhook_secret = webhook_secret(backend, settings)?;
            let (store, listen_on): (Arc<dyn PaymentStore>, _) = match backend
                .database(service)
                .await?
            {
                Database::Sqlite(db) => (
                    Arc::new(SqlitePaymentStore::open(db, Arc::clone(&wake)).await?),
                    None,
                ),
                Database::Postgres(pool) => (
                    Arc::new(PostgresPaymentStore::open(pool.clone(), Arc::clone(&wake)).await?),
                    Some(pool),
                ),
            };
            let fresh = FreshIds::new(service.name(), settings.fresh_id_wait());
            let config = boxoffice_payments::Config {
                gateway: boxoffice_payments::gateway::configure(
                    settings.stripe_key.clone(),
                    settings.stripe_api_base.clone(),
                    webhook_secret.clone(),
                )?,
                currency: settings.currency.to_lowercase(),
                webhook_secret,
                resume_every: boxoffice_payments::resumer::RESUME_EVERY,
                decision_wait: settings.payment_decision_wait(),
            };
            let parts = boxoffice_payments::parts(store, wake, clock, config, fresh.clone());
            with_fresh_id_listener(parts, listen_on, fresh)
        }
        Service::Queue => {
            let mut shared_rooms = None;
            let store: Arc<dyn QueueStore> = match backend {
                Backend::Embedded { .. } => match backend.database(service).await? {
                    Database::Sqlite(db) => {
                        Arc::new(SqliteQueueStore::open(db, Arc::clone(&wake)).await?)
                    }
                    Database::Postgres(_) => anyhow::bail!("the queue keeps no PostgreSQL state"),
                },
                Backend::Distributed { redis, pg, .. } => {
                    let (url, prefix) = redis
                        .as_ref()
                        .context("REDIS_URL is required for the queue")?;
                    if pg.is_some() {
                        shared_rooms = Some(rooms_in_postgres(backend, shared).await?);
                    } else {
                        tracing::warn!(
                            "DATABASE_URL is not set for the queue: no waiting rooms are served"
                        );
                    }
                    Arc::new(
                        RedisQueueStore::connect(url.expose(), prefix, Arc::clone(&wake)).await?,
                    )
                }
            };
            let turn =
                time::Duration::try_from(settings.queue_turn()).context("QUEUE_TURN_SECONDS")?;
            // Replicas hear of each other's commits through Redis (the store's change
            // feed), so the queue needs no PostgreSQL listener.
            let fresh = FreshIds::new(service.name(), settings.fresh_id_wait());
            let rooms = boxoffice_queue::room::RoomSettings {
                config: boxoffice_queue::room::engine::RoomConfig {
                    lease_ms: millis(settings.room_lease_seconds),
                    grace_ms: millis(settings.room_grace_seconds),
                    admission_ms: millis(settings.room_admission_seconds),
                    admit_per_minute: settings.room_admit_per_minute,
                },
                ..Default::default()
            };
            let admissions = admission_keys(backend, settings)?;
            boxoffice_queue::parts(
                store,
                wake,
                clock,
                Rules { turn },
                fresh,
                RoomPart {
                    admissions,
                    settings: rooms,
                    shared: shared_rooms,
                },
            )
            .await?
        }
        // The pages are served in front of the API (`crate::web`), not as a service part.
        Service::Web => anyhow::bail!("the web UI has no store, consumers or timers"),
    })
}

/// On PostgreSQL, the replica that applies an event may not be the one a request waits
/// in: `parts` gets the process's one `LISTEN` connection, which wakes its local waiters
/// when any replica commits a fresh id. SQLite (one process) needs none.
fn with_fresh_id_listener(
    parts: ServiceParts,
    pool: Option<sqlx::PgPool>,
    fresh: FreshIds,
) -> ServiceParts {
    match pool {
        Some(pool) => parts.task("fresh-id-listener", move |stop| {
            fresh::postgres::listen(pool.clone(), fresh.clone(), stop)
        }),
        None => parts,
    }
}

/// Connections of a queue replica to its rooms' database: its writer group-commits, and
/// each tick reads a little per room, so replicas leave the server's connections to the
/// services that need them.
const ROOMS_CONNECTIONS: u32 = 4;

/// The distributed queue's waiting rooms: kept in its PostgreSQL database, each run by the
/// replica holding its lease, the others reaching it at `ROOM_ADVERTISE_URL`.
async fn rooms_in_postgres(backend: &Backend, shared: &Shared<'_>) -> anyhow::Result<SharedRooms> {
    let Backend::Distributed { pg: Some(url), .. } = backend else {
        anyhow::bail!("the distributed queue keeps its rooms in PostgreSQL");
    };
    let pool =
        boxoffice_platform::db::postgres::connect_at_most(url.expose(), ROOMS_CONNECTIONS).await?;
    let wake = Arc::new(Notify::new());
    let store = PostgresRoomStore::open(pool, Arc::clone(&wake)).await?;
    let settings = shared.settings;
    let address = settings
        .room_advertise_url
        .clone()
        .unwrap_or_else(|| format!("http://127.0.0.1:{}", shared.address.port()));
    Ok(SharedRooms {
        store: Arc::new(store),
        wake,
        address: address.trim_end_matches('/').to_owned(),
        lease: std::time::Duration::from_secs(settings.room_runner_lease_seconds),
    })
}

/// Whole seconds of a setting as the room engine's milliseconds.
fn millis(seconds: u64) -> i64 {
    i64::try_from(seconds.saturating_mul(1000)).unwrap_or(i64::MAX)
}

/// The key waiting-room admissions are signed with: its own, never the session key. The
/// embedded mode generates one (kept in `DATA_DIR`).
fn admission_keys(backend: &Backend, settings: &Settings) -> anyhow::Result<AdmissionKeys> {
    let key = match (&settings.room_admission_key, backend) {
        (Some(key), _) => key.clone(),
        (None, Backend::Embedded { dir }) => keys::load_or_create(dir, keys::ADMISSION_KEY_FILE)?,
        // The queue signs and the orders service verifies: both must be told the key.
        (None, Backend::Distributed { .. }) => anyhow::bail!(
            "ROOM_ADMISSION_KEY is required for `boxoffice serve orders` and `serve queue`"
        ),
    };
    keys::check_key(&key).context("ROOM_ADMISSION_KEY")?;
    Ok(AdmissionKeys::new(&key))
}

/// The secret payment webhooks are signed with. The embedded test processor makes one up
/// (kept in `DATA_DIR`); Stripe, and replicas of the payments service, must be told it.
fn webhook_secret(backend: &Backend, settings: &Settings) -> anyhow::Result<Secret> {
    match (&settings.stripe_webhook_secret, backend) {
        (Some(secret), _) => Ok(secret.clone()),
        (None, _) if settings.stripe_key.is_some() => {
            anyhow::bail!("STRIPE_WEBHOOK_SECRET is required with STRIPE_KEY")
        }
        (None, Backend::Embedded { dir }) => keys::load_or_create(dir, keys::WEBHOOK_KEY_FILE),
        // Replicas must agree on the secret the test processor signs with.
        (None, Backend::Distributed { .. }) => {
            anyhow::bail!("STRIPE_WEBHOOK_SECRET is required for `boxoffice serve payments`")
        }
    }
}
