//! The operator's one-shot commands: `migrate`, `republish`, `backup` and `verify-room`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use boxoffice_auth::store::PostgresUserStore;
use boxoffice_expiration::store::PostgresJobStore;
use boxoffice_orders::store::PostgresOrderStore;
use boxoffice_payments::store::PostgresPaymentStore;
use boxoffice_platform::db::postgres;
use boxoffice_platform::outbox::OutboxStore;
use boxoffice_platform::outbox::postgres::PostgresOutbox;
use boxoffice_queue::room::store::PostgresRoomStore;
use boxoffice_queue::store::{QueueStore, RedisQueueStore};
use boxoffice_tickets::store::PostgresTicketStore;
use tokio::sync::Notify;

use crate::backend::database_url;
use crate::cli::{Service, Settings};
use crate::keys;

/// `boxoffice migrate <service>`: applies the service's PostgreSQL migrations.
pub async fn migrate(service: Service, settings: &Settings) -> anyhow::Result<()> {
    match service {
        Service::Queue if settings.database_url.is_none() => {
            println!(
                "the queue keeps its lines in Redis, and its waiting rooms in PostgreSQL only \
                 with DATABASE_URL: there is no schema to migrate"
            );
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
        Service::Queue => PostgresRoomStore::migrate(&pool).await?,
        Service::Web => {}
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

/// The embedded mode's stores, one SQLite file each in `DATA_DIR`.
const EMBEDDED_STORES: [Service; 6] = [
    Service::Auth,
    Service::Tickets,
    Service::Orders,
    Service::Expiration,
    Service::Payments,
    Service::Queue,
];

/// `boxoffice backup <dir>`: an online copy of every embedded store, taken while the
/// server runs, into `<dir>/<service>.db`, beside copies of the generated key files.
///
/// Each file is copied with SQLite's `VACUUM INTO`, a consistent snapshot of that file
/// taken inside one read transaction: writers go on meanwhile. The files are copied one
/// after the other, though, so one service's copy can miss an event another service's
/// copy already counts as published. Every copy therefore marks the outbox rows
/// published since the backup began unpublished again: after a restore the relays publish
/// them once more, and the consumers' inboxes ignore the ones they already had. Returns
/// the files written.
pub async fn backup(dir: &Path, settings: &Settings) -> anyhow::Result<Vec<PathBuf>> {
    let data_dir = &settings.data_dir;
    let began = time::OffsetDateTime::now_utc() - REPUBLISH_MARGIN;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut written = Vec::new();
    for service in EMBEDDED_STORES {
        let source = data_dir.join(format!("{}.db", service.name()));
        anyhow::ensure!(
            source.exists(),
            "{} does not exist: is DATA_DIR ({}) the embedded mode's data directory?",
            source.display(),
            data_dir.display()
        );
        let target = dir.join(format!("{}.db", service.name()));
        anyhow::ensure!(
            !target.exists(),
            "{} exists already: back up into a new directory",
            target.display()
        );
        copy_store(&source, &target, began)
            .await
            .with_context(|| format!("backing up {}", source.display()))?;
        tracing::info!(service = service.name(), file = %target.display(), "store copied");
        written.push(target);
    }
    for key in [
        keys::SESSION_KEY_FILE,
        keys::WEBHOOK_KEY_FILE,
        keys::ADMISSION_KEY_FILE,
    ] {
        let source = data_dir.join(key);
        if source.exists() {
            let target = dir.join(key);
            std::fs::copy(&source, &target)
                .with_context(|| format!("copying {}", source.display()))?;
            written.push(target);
        }
    }
    println!(
        "backed up {} files of {} into {}",
        written.len(),
        data_dir.display(),
        dir.display()
    );
    Ok(written)
}

/// Outbox rows published this little before the backup began are published again too:
/// their publication may have been under way while the first file was copied.
const REPUBLISH_MARGIN: std::time::Duration = std::time::Duration::from_secs(5);

async fn copy_store(
    source: &Path,
    target: &Path,
    began: time::OffsetDateTime,
) -> anyhow::Result<()> {
    use sqlx::ConnectOptions;
    use sqlx::Connection;
    use sqlx::sqlite::SqliteConnectOptions;

    let mut live = SqliteConnectOptions::new()
        .filename(source)
        .read_only(true)
        .busy_timeout(std::time::Duration::from_secs(30))
        .connect()
        .await?;
    let target_text = target
        .to_str()
        .context("the backup directory's path is not UTF-8")?
        .to_owned();
    sqlx::query("VACUUM INTO $1")
        .bind(target_text)
        .execute(&mut live)
        .await
        .context("VACUUM INTO")?;
    live.close().await?;

    let mut copy = SqliteConnectOptions::new()
        .filename(target)
        .connect()
        .await?;
    sqlx::query("UPDATE outbox SET sent_at = NULL WHERE sent_at >= $1")
        .bind(boxoffice_platform::db::sqlite::time_text(began))
        .execute(&mut copy)
        .await
        .context("marking recent events for publication again")?;
    copy.close().await?;
    Ok(())
}

/// `verify-room <log>`: checks an exported fairness log and prints what it found (JSON);
/// an error names what does not hold — where the chain breaks, a seed that is not the
/// committed one, a shuffle that is not the seed's, or the inversions.
pub fn verify_room(log: &Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(log).with_context(|| format!("reading {}", log.display()))?;
    let verification = boxoffice_queue::room::verify_lines(&text);
    println!("{}", serde_json::to_string_pretty(&verification)?);
    if let Some((seq, why)) = &verification.broken_at {
        anyhow::bail!("the log is broken at entry {seq}: {why}");
    }
    anyhow::ensure!(
        verification.seed_matches_commitment != Some(false),
        "the revealed seed is not the one committed to"
    );
    anyhow::ensure!(
        verification.shuffle_matches != Some(false),
        "the prequeue was not served in the order the seed ranks it"
    );
    anyhow::ensure!(
        verification.inversions == 0,
        "{} places were admitted while a live place ahead of them waited",
        verification.inversions
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use boxoffice_queue::room::{Room, RoomConfig, Seed, Stock};

    use super::*;

    /// A small sale's exported log.
    fn sale_log() -> String {
        let mut room = Room::new(
            Seed::generate().expect("seed"),
            1_000,
            RoomConfig::default(),
            0,
        );
        for i in 0..6 {
            room.join(&format!("p{i}"), 100);
        }
        room.tick(
            1_000,
            Stock {
                free: 2,
                held: 0,
                sold: 0,
            },
        );
        room.close(2_000);
        room.log().to_lines()
    }

    #[test]
    fn verify_room_passes_a_fair_log_and_names_where_a_tampered_one_breaks() {
        let dir = tempfile::tempdir().expect("dir");
        let fair = dir.path().join("fair.log");
        let log = sale_log();
        std::fs::write(&fair, &log).expect("write");
        verify_room(&fair).expect("a fair log verifies");

        let tampered = dir.path().join("tampered.log");
        std::fs::write(&tampered, log.replacen("\"at\":100", "\"at\":99", 1)).expect("write");
        let err = verify_room(&tampered).expect_err("a tampered log fails");
        assert!(format!("{err:#}").contains("broken at entry 2"), "{err:#}");

        let missing = verify_room(&dir.path().join("none.log")).expect_err("no file");
        assert!(format!("{missing:#}").contains("none.log"), "{missing:#}");
    }
}
