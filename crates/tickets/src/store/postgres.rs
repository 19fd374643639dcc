//! Tickets in the distributed mode's PostgreSQL database: changes lock their row
//! (`FOR UPDATE`), so replicas serialise per ticket, not per table. The statements are in
//! `sql.rs`.

use std::sync::Arc;

use anyhow::Context;
use boxoffice_common::Id;
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::db::is_unique_violation;
use boxoffice_platform::outbox::postgres as outbox;
use boxoffice_platform::store::{Claim, Decision, Modified, Plumbing};
use sqlx::postgres::{PgConnection, PgPool, Postgres};
use tokio::sync::Notify;

use super::{ListQuery, Listed, TicketEdit, TicketModified, TicketStore, listing, sql};
use crate::domain::{Ticket, TicketError};

#[derive(Debug, Clone)]
pub struct PostgresTicketStore {
    pub(super) pool: PgPool,
    /// Told after every commit that wrote outbox rows, to wake the relay.
    pub(super) outbox_written: Arc<Notify>,
}

impl PostgresTicketStore {
    /// Brings the schema up to date (safe from several replicas at once).
    pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
        sqlx::migrate!("migrations/postgres")
            .run(pool)
            .await
            .context("migrating the tickets PostgreSQL database")
    }

    pub async fn open(pool: PgPool, outbox_written: Arc<Notify>) -> anyhow::Result<Self> {
        Self::migrate(&pool).await?;
        Ok(Self {
            pool,
            outbox_written,
        })
    }
}

/// Applies one edit inside the open transaction `conn` (the ticket, locked until it
/// ends): what [`TicketStore::modify_all`] does for each, the commit left to it. The
/// second value says whether events were written to the outbox.
async fn apply_edit(
    conn: &mut PgConnection,
    edit: TicketEdit<'_>,
) -> anyhow::Result<(TicketModified, bool)> {
    if let Some(claim) = edit.claim
        && !outbox::claim(conn, claim.consumer, claim.event_id).await?
    {
        return Ok((Modified::Duplicate, false));
    }
    // Locked until commit: a concurrent change to the same ticket waits here.
    let Some(row) = sql::select_for_update(edit.id)
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
    match sql::update::<Postgres>(&ticket).execute(&mut *conn).await {
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
impl TicketStore for PostgresTicketStore {
    async fn insert(&self, ticket: &Ticket, event: &Envelope) -> anyhow::Result<Listed> {
        let mut tx = self.pool.begin().await?;
        match sql::insert::<Postgres>(ticket).execute(&mut *tx).await {
            Ok(_) => {}
            Err(err) if is_unique_violation(&err) => return Ok(Listed::SerialTaken),
            Err(err) => return Err(anyhow::Error::new(err).context("inserting ticket")),
        }
        outbox::enqueue(&mut tx, event).await?;
        tx.commit().await?;
        self.outbox_written.notify_one();
        Ok(Listed::Saved)
    }

    async fn get(&self, id: Id) -> anyhow::Result<Option<Ticket>> {
        sql::get(&self.pool, id).await
    }

    async fn list(&self, query: &ListQuery) -> anyhow::Result<(Vec<Ticket>, u64)> {
        listing::list(&self.pool, query).await
    }

    async fn modify_all(&self, edits: Vec<TicketEdit<'_>>) -> anyhow::Result<Vec<TicketModified>> {
        let tx = self.pool.begin().await?;
        let (outcomes, wrote_events) =
            boxoffice_platform::apply_edits!(tx, edits, |conn, edit| apply_edit(conn, edit))?;
        if wrote_events {
            self.outbox_written.notify_one();
        }
        Ok(outcomes)
    }

    async fn close_order(&self, order_id: Id) -> anyhow::Result<()> {
        sql::close_order(&self.pool, order_id).await
    }

    async fn is_order_closed(&self, order_id: Id) -> anyhow::Result<bool> {
        sql::is_order_closed(&self.pool, order_id).await
    }

    async fn claim_only(&self, claim: Claim<'_>) -> anyhow::Result<bool> {
        let mut tx = self.pool.begin().await?;
        let fresh = outbox::claim(&mut tx, claim.consumer, claim.event_id).await?;
        tx.commit().await?;
        Ok(fresh)
    }

    fn plumbing(&self) -> Arc<dyn Plumbing> {
        Arc::new(self.pool.clone())
    }
}
