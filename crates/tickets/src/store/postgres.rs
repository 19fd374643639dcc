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
use sqlx::postgres::{PgPool, Postgres};
use tokio::sync::Notify;

use super::{Change, ListQuery, Listed, TicketStore, listing, sql};
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

    async fn modify(
        &self,
        id: Id,
        claim: Option<Claim<'_>>,
        change: Change,
    ) -> anyhow::Result<Modified<Ticket, TicketError>> {
        let mut tx = self.pool.begin().await?;
        if let Some(claim) = claim
            && !outbox::claim(&mut tx, claim.consumer, claim.event_id).await?
        {
            return Ok(Modified::Duplicate);
        }
        // Locked until commit: a concurrent change to the same ticket waits here.
        let Some(row) = sql::select_for_update(id).fetch_optional(&mut *tx).await? else {
            tx.commit().await?;
            return Ok(Modified::Missing);
        };
        let mut ticket = Ticket::try_from(row)?;
        let events = match change(&mut ticket) {
            Err(refusal) => return Ok(Modified::Refused(refusal)),
            Ok(Decision::Keep) => {
                tx.commit().await?;
                return Ok(Modified::Unchanged(ticket));
            }
            Ok(Decision::Save(events)) => events,
        };
        match sql::update::<Postgres>(&ticket).execute(&mut *tx).await {
            Ok(_) => {}
            // Another live ticket of the event has the serial; dropping `tx` undoes all.
            Err(err) if is_unique_violation(&err) => {
                return Ok(Modified::Refused(TicketError::serial_taken()));
            }
            Err(err) => return Err(anyhow::Error::new(err).context("saving ticket")),
        }
        for event in &events {
            outbox::enqueue(&mut tx, event).await?;
        }
        tx.commit().await?;
        if !events.is_empty() {
            self.outbox_written.notify_one();
        }
        Ok(Modified::Saved(ticket))
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
