//! Tickets in the embedded mode's SQLite file: writes on the one writer connection under
//! `BEGIN IMMEDIATE`, reads on the reader pool — or, for one ticket, from the copy of
//! recent tickets this store keeps in step with its commits (`recent.rs`). The
//! statements are in `sql.rs`.

use std::sync::Arc;

use anyhow::Context;
use boxoffice_common::Id;
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::db::is_unique_violation;
use boxoffice_platform::db::sqlite::SqliteDb;
use boxoffice_platform::outbox::sqlite as outbox;
use boxoffice_platform::store::{Claim, Decision, Modified, Plumbing};
use sqlx::{Sqlite, SqliteConnection};
use tokio::sync::Notify;

use super::recent::RecentTickets;
use super::{ListQuery, Listed, TicketEdit, TicketModified, TicketStore, listing, sql};
use crate::domain::{Ticket, TicketError};

#[derive(Debug, Clone)]
pub struct SqliteTicketStore {
    pub(super) db: SqliteDb,
    /// Told after every commit that wrote outbox rows, to wake the relay.
    pub(super) outbox_written: Arc<Notify>,
    /// Tickets read or saved lately, as of this store's newest commit.
    recent: Arc<RecentTickets>,
}

impl SqliteTicketStore {
    pub async fn open(db: SqliteDb, outbox_written: Arc<Notify>) -> anyhow::Result<Self> {
        sqlx::migrate!("migrations/sqlite")
            .run(&db.writer)
            .await
            .context("migrating the tickets SQLite database")?;
        Ok(Self {
            db,
            outbox_written,
            recent: Arc::default(),
        })
    }
}

/// Applies one edit inside the open transaction `conn`: what [`TicketStore::modify_all`]
/// does for each, the commit left to it. The second value says whether events were
/// written to the outbox.
async fn apply_edit(
    conn: &mut SqliteConnection,
    edit: TicketEdit<'_>,
) -> anyhow::Result<(TicketModified, bool)> {
    if let Some(claim) = edit.claim
        && !outbox::claim(conn, claim.consumer, claim.event_id).await?
    {
        return Ok((Modified::Duplicate, false));
    }
    let Some(row) = sql::select::<Sqlite>(edit.id)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok((Modified::Missing, false));
    };
    let mut ticket = Ticket::try_from(row)?;
    let events = match (edit.change)(&mut ticket) {
        Err(refusal) => return Ok((Modified::Refused(refusal), false)),
        Ok(Decision::Keep) => return Ok((Modified::Unchanged(ticket), false)),
        Ok(Decision::Save(events)) => events,
    };
    match sql::update::<Sqlite>(&ticket).execute(&mut *conn).await {
        Ok(_) => {}
        // Another live ticket of the event has the serial: the edit's writes are undone.
        Err(err) if is_unique_violation(&err) => {
            return Ok((Modified::Refused(TicketError::serial_taken()), false));
        }
        Err(err) => return Err(anyhow::Error::new(err).context("saving ticket")),
    }
    for event in &events {
        outbox::enqueue(conn, event).await?;
    }
    Ok((Modified::Saved(ticket), !events.is_empty()))
}

#[async_trait::async_trait]
impl TicketStore for SqliteTicketStore {
    async fn insert(&self, ticket: &Ticket, event: &Envelope) -> anyhow::Result<Listed> {
        let mut tx = self.db.begin_write().await?;
        match sql::insert::<Sqlite>(ticket).execute(&mut *tx).await {
            Ok(_) => {}
            Err(err) if is_unique_violation(&err) => return Ok(Listed::SerialTaken),
            Err(err) => return Err(anyhow::Error::new(err).context("inserting ticket")),
        }
        outbox::enqueue(&mut tx, event).await?;
        tx.commit().await?;
        self.recent.saved(ticket);
        self.outbox_written.notify_one();
        Ok(Listed::Saved)
    }

    async fn get(&self, id: Id) -> anyhow::Result<Option<Ticket>> {
        if let Some(kept) = self.recent.get(id) {
            return Ok(kept);
        }
        let read = sql::get(&self.db.reader, id).await?;
        if let Some(ticket) = &read {
            self.recent.read(ticket);
        }
        Ok(read)
    }

    async fn list(&self, query: &ListQuery) -> anyhow::Result<(Vec<Ticket>, u64)> {
        listing::list(&self.db.reader, query).await
    }

    async fn modify_all(&self, edits: Vec<TicketEdit<'_>>) -> anyhow::Result<Vec<TicketModified>> {
        // The write lock is held from the first statement, so no ticket read below can
        // change before it is saved.
        let tx = self.db.begin_write().await?;
        let (outcomes, wrote_events) =
            boxoffice_platform::apply_edits!(tx, edits, |conn, edit| apply_edit(conn, edit))?;
        for outcome in &outcomes {
            if let Modified::Saved(ticket) = outcome {
                self.recent.saved(ticket);
            }
        }
        if wrote_events {
            self.outbox_written.notify_one();
        }
        Ok(outcomes)
    }

    async fn close_order(&self, order_id: Id) -> anyhow::Result<()> {
        sql::close_order(&self.db.writer, order_id).await
    }

    async fn is_order_closed(&self, order_id: Id) -> anyhow::Result<bool> {
        sql::is_order_closed(&self.db.reader, order_id).await
    }

    async fn claim_only(&self, claim: Claim<'_>) -> anyhow::Result<bool> {
        let mut tx = self.db.begin_write().await?;
        let fresh = outbox::claim(&mut tx, claim.consumer, claim.event_id).await?;
        tx.commit().await?;
        Ok(fresh)
    }

    fn plumbing(&self) -> Arc<dyn Plumbing> {
        Arc::new(self.db.clone())
    }
}
