//! The catalogue in the distributed mode's PostgreSQL database: an edit locks its event
//! row (`FOR UPDATE`); creating relies on the unique index alone. The statements are in
//! `event_sql.rs`.

use anyhow::Context;
use boxoffice_common::Id;
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::db::is_unique_violation;
use boxoffice_platform::outbox::postgres as outbox;
use boxoffice_platform::store::{Decision, Modified};
use sqlx::postgres::Postgres;

use super::event_sql::{self, EventListingRow};
use super::{CatalogueStore, Catalogued, EventChange, EventQuery, PostgresTicketStore};
use crate::domain::event::{CatalogueEvent, CatalogueEventError, EventListing};

/// How often [`CatalogueStore::insert_event`] tries again when the event that held the
/// key was renamed before it could be read.
const INSERT_ATTEMPTS: usize = 3;

#[async_trait::async_trait]
impl CatalogueStore for PostgresTicketStore {
    async fn insert_event(
        &self,
        event: &CatalogueEvent,
        created: &Envelope,
    ) -> anyhow::Result<Catalogued> {
        let mut tx = self.pool.begin().await?;
        for _ in 0..INSERT_ATTEMPTS {
            // A concurrent insert of the same key makes this one wait for its commit; then
            // nothing is inserted, and the next statement (a new snapshot under READ
            // COMMITTED) sees the winner's row.
            let inserted = event_sql::insert::<Postgres>(event)
                .execute(&mut *tx)
                .await
                .context("inserting event")?;
            if inserted.rows_affected() > 0 {
                outbox::enqueue(&mut tx, created).await?;
                tx.commit().await?;
                self.outbox_written.notify_one();
                return Ok(Catalogued::Created(EventListing::empty(event.clone())));
            }
            let mut existing = event_sql::by_keys::<Postgres>(event);
            let row = existing
                .build_query_as::<EventListingRow>()
                .fetch_optional(&mut *tx)
                .await
                .context("reading the event holding the key")?;
            if let Some(row) = row {
                tx.commit().await?;
                return Ok(Catalogued::Existing(row.into()));
            }
            // The holder was edited away from the key in between: the key may be free now.
        }
        anyhow::bail!("the event's key kept changing hands while it was being created")
    }

    async fn event(&self, id: Id) -> anyhow::Result<Option<EventListing>> {
        event_sql::get(&self.pool, id).await
    }

    async fn list_events(&self, query: &EventQuery) -> anyhow::Result<(Vec<EventListing>, u64)> {
        event_sql::list(&self.pool, query).await
    }

    async fn modify_event(
        &self,
        id: Id,
        change: EventChange,
    ) -> anyhow::Result<Modified<EventListing, CatalogueEventError>> {
        let mut tx = self.pool.begin().await?;
        // Locked until commit: a concurrent edit of the same event waits here.
        let Some(row) = event_sql::select_for_update(id)
            .fetch_optional(&mut *tx)
            .await?
        else {
            tx.commit().await?;
            return Ok(Modified::Missing);
        };
        let mut event = CatalogueEvent::from(row);
        // `None`: kept as it was; `Some(n)`: saved with `n` events.
        let saved = match change(&mut event) {
            Err(refusal) => return Ok(Modified::Refused(refusal)),
            Ok(Decision::Keep) => None,
            Ok(Decision::Save(events)) => {
                match event_sql::update::<Postgres>(&event)
                    .execute(&mut *tx)
                    .await
                {
                    Ok(_) => {}
                    // Another event has the new name, venue and start; the failed
                    // statement aborted `tx`, and dropping it rolls everything back.
                    Err(err) if is_unique_violation(&err) => {
                        return Ok(Modified::Refused(CatalogueEventError::exists()));
                    }
                    Err(err) => return Err(anyhow::Error::new(err).context("saving event")),
                }
                for announce in &events {
                    outbox::enqueue(&mut tx, announce).await?;
                }
                Some(events.len())
            }
        };
        let mut read = event_sql::by_id::<Postgres>(id);
        let listing = read
            .build_query_as::<EventListingRow>()
            .fetch_one(&mut *tx)
            .await
            .context("reading the saved event")?;
        tx.commit().await?;
        match saved {
            None => Ok(Modified::Unchanged(listing.into())),
            Some(announced) => {
                if announced > 0 {
                    self.outbox_written.notify_one();
                }
                Ok(Modified::Saved(listing.into()))
            }
        }
    }
}
