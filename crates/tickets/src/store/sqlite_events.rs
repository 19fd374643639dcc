//! The catalogue in the embedded mode's SQLite file: writes on the one writer connection
//! under `BEGIN IMMEDIATE`, reads on the reader pool. The statements are in
//! `event_sql.rs`.

use anyhow::Context;
use boxoffice_common::Id;
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::db::is_unique_violation;
use boxoffice_platform::outbox::sqlite as outbox;
use boxoffice_platform::store::{Decision, Modified};
use sqlx::Sqlite;

use super::event_sql::{self, EventListingRow};
use super::{CatalogueStore, Catalogued, EventChange, EventQuery, SqliteTicketStore};
use crate::domain::event::{CatalogueEvent, CatalogueEventError, EventListing};

#[async_trait::async_trait]
impl CatalogueStore for SqliteTicketStore {
    async fn insert_event(
        &self,
        event: &CatalogueEvent,
        created: &Envelope,
    ) -> anyhow::Result<Catalogued> {
        // One writer: whoever holds the key now held it when the insert did nothing.
        let mut tx = self.db.begin_write().await?;
        let inserted = event_sql::insert::<Sqlite>(event)
            .execute(&mut *tx)
            .await
            .context("inserting event")?;
        if inserted.rows_affected() == 0 {
            let mut existing = event_sql::by_keys::<Sqlite>(event);
            let row = existing
                .build_query_as::<EventListingRow>()
                .fetch_one(&mut *tx)
                .await
                .context("reading the event holding the key")?;
            tx.commit().await?;
            return Ok(Catalogued::Existing(row.into()));
        }
        outbox::enqueue(&mut tx, created).await?;
        tx.commit().await?;
        self.outbox_written.notify_one();
        Ok(Catalogued::Created(EventListing::empty(event.clone())))
    }

    async fn event(&self, id: Id) -> anyhow::Result<Option<EventListing>> {
        event_sql::get(&self.db.reader, id).await
    }

    async fn list_events(&self, query: &EventQuery) -> anyhow::Result<(Vec<EventListing>, u64)> {
        event_sql::list(&self.db.reader, query).await
    }

    async fn modify_event(
        &self,
        id: Id,
        change: EventChange,
    ) -> anyhow::Result<Modified<EventListing, CatalogueEventError>> {
        let mut tx = self.db.begin_write().await?;
        let Some(row) = event_sql::select::<Sqlite>(id)
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
                match event_sql::update::<Sqlite>(&event).execute(&mut *tx).await {
                    Ok(_) => {}
                    // Another event has the new name, venue and start.
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
        let mut read = event_sql::by_id::<Sqlite>(id);
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
