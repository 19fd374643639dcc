//! The operator's one-shot commands: `migrate` and `republish`.

use std::sync::Arc;

use anyhow::Context;
use boxoffice_auth::store::PostgresUserStore;
use boxoffice_expiration::store::PostgresJobStore;
use boxoffice_orders::store::PostgresOrderStore;
use boxoffice_payments::store::PostgresPaymentStore;
use boxoffice_platform::db::postgres;
use boxoffice_platform::outbox::OutboxStore;
use boxoffice_platform::outbox::postgres::PostgresOutbox;
use boxoffice_queue::store::{QueueStore, RedisQueueStore};
use boxoffice_tickets::store::PostgresTicketStore;
use tokio::sync::Notify;

use crate::backend::database_url;
use crate::cli::{Service, Settings};

/// `boxoffice migrate <service>`: applies the service's PostgreSQL migrations.
pub async fn migrate(service: Service, settings: &Settings) -> anyhow::Result<()> {
    match service {
        Service::Queue => {
            println!("the queue keeps its lines in Redis: there is no schema to migrate");
            return Ok(());
        }
        Service::Web => {
            println!("the web UI keeps nothing: there is no schema to migrate");
            return Ok(());
        }
        _ => {}
    }
    let pool = postgres::connect(database_url(settings)?.expose()).await?;
    match service {
        Service::Auth => PostgresUserStore::migrate(&pool).await?,
        Service::Tickets => PostgresTicketStore::migrate(&pool).await?,
        Service::Orders => PostgresOrderStore::migrate(&pool).await?,
        Service::Expiration => PostgresJobStore::migrate(&pool).await?,
        Service::Payments => PostgresPaymentStore::migrate(&pool).await?,
        Service::Queue | Service::Web => {}
    }
    tracing::info!(service = service.name(), "schema is up to date");
    Ok(())
}

/// `boxoffice republish <service> --since <time>`: marks the service's outbox rows sent
/// since `since` unsent, so its relay (in the running service) publishes them again.
pub async fn republish(service: Service, since: &str, settings: &Settings) -> anyhow::Result<()> {
    let since = time::OffsetDateTime::parse(since, &time::format_description::well_known::Rfc3339)
        .context("--since must be an RFC 3339 time, e.g. 2026-11-22T10:00:00Z")?;
    anyhow::ensure!(
        service != Service::Web,
        "the web UI publishes no events: there is nothing to republish"
    );
    let outbox: Arc<dyn OutboxStore> = if service == Service::Queue {
        let url = settings
            .redis_url
            .as_ref()
            .context("REDIS_URL is required to republish the queue's events")?;
        let store = RedisQueueStore::connect(
            url.expose(),
            &settings.redis_prefix,
            Arc::new(Notify::new()),
        )
        .await?;
        store.plumbing().outbox()
    } else {
        let pool = postgres::connect(database_url(settings)?.expose()).await?;
        migrate(service, settings).await?;
        Arc::new(PostgresOutbox::new(pool))
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
