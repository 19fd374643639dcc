//! Tickets in the distributed mode's PostgreSQL database.

use std::sync::Arc;

use anyhow::Context;
use boxoffice_common::{Id, Money};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::outbox::OutboxStore;
use boxoffice_platform::outbox::postgres::{self as outbox, PostgresOutbox};
use sqlx::postgres::{PgPool, PgRow};
use sqlx::{PgConnection, Postgres, QueryBuilder, Row};
use tokio::sync::Notify;

use super::{
    Change, Claim, Decision, ListQuery, Modified, Sort, StatusFilter, TicketStore, like_pattern,
};
use crate::domain::{Ticket, TicketError, TicketStatus};

const COLUMNS: &str =
    "id, title, price, description, user_id, order_id, status, version, created_at";

#[derive(Debug, Clone)]
pub struct PostgresTicketStore {
    pool: PgPool,
    outbox_written: Arc<Notify>,
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

fn read(row: &PgRow) -> anyhow::Result<Ticket> {
    let status: String = row.try_get("status")?;
    Ok(Ticket {
        id: row.try_get("id")?,
        title: row.try_get("title")?,
        price: Money::from_minor(row.try_get("price")?),
        description: row.try_get("description")?,
        user_id: row.try_get("user_id")?,
        order_id: row.try_get("order_id")?,
        status: TicketStatus::parse(&status).context("stored status")?,
        version: row.try_get("version")?,
        created_at: row.try_get("created_at")?,
    })
}

/// A live ticket; with `lock`, held for update until the transaction ends.
async fn load(conn: &mut PgConnection, id: Id, lock: bool) -> anyhow::Result<Option<Ticket>> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM tickets WHERE id = $1 AND NOT deleted{lock}"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(read).transpose()
}

fn push_filters(builder: &mut QueryBuilder<Postgres>, query: &ListQuery) {
    builder.push(" WHERE NOT deleted");
    match query.status {
        StatusFilter::NotSold => {
            builder.push(" AND status IN ('available', 'reserved')");
        }
        StatusFilter::Only(status) => {
            builder.push(" AND status = ").push_bind(status.as_str());
        }
        StatusFilter::All => {}
    }
    if let Some(text) = &query.text {
        builder
            .push(" AND lower(title) LIKE ")
            .push_bind(like_pattern(text))
            .push(" ESCAPE '\\'");
    }
    if let Some(min) = query.min_price {
        builder.push(" AND price >= ").push_bind(min.minor());
    }
    if let Some(max) = query.max_price {
        builder.push(" AND price <= ").push_bind(max.minor());
    }
    if let Some(seller) = query.seller {
        builder.push(" AND user_id = ").push_bind(seller);
    }
}

#[async_trait::async_trait]
impl TicketStore for PostgresTicketStore {
    async fn insert(&self, ticket: &Ticket, event: &Envelope) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO tickets (id, title, price, description, user_id, order_id, status, version, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(ticket.id)
        .bind(&ticket.title)
        .bind(ticket.price.minor())
        .bind(&ticket.description)
        .bind(ticket.user_id)
        .bind(ticket.order_id)
        .bind(ticket.status.as_str())
        .bind(ticket.version)
        .bind(ticket.created_at)
        .execute(&mut *tx)
        .await
        .context("inserting ticket")?;
        outbox::enqueue(&mut tx, event).await?;
        tx.commit().await?;
        self.outbox_written.notify_one();
        Ok(())
    }

    async fn get(&self, id: Id) -> anyhow::Result<Option<Ticket>> {
        let mut conn = self.pool.acquire().await?;
        load(&mut conn, id, false).await
    }

    async fn list(&self, query: &ListQuery) -> anyhow::Result<(Vec<Ticket>, u64)> {
        let mut page = QueryBuilder::<Postgres>::new("SELECT ");
        page.push(COLUMNS).push(" FROM tickets");
        push_filters(&mut page, query);
        page.push(match query.sort {
            Sort::Oldest => " ORDER BY created_at, id",
            Sort::Newest => " ORDER BY created_at DESC, id DESC",
            Sort::PriceAscending => " ORDER BY price, created_at, id",
            Sort::PriceDescending => " ORDER BY price DESC, created_at, id",
        });
        page.push(" LIMIT ").push_bind(i64::from(query.limit));
        page.push(" OFFSET ")
            .push_bind(i64::try_from(query.offset).unwrap_or(i64::MAX));
        let rows = page
            .build()
            .fetch_all(&self.pool)
            .await
            .context("listing tickets")?;
        let tickets = rows.iter().map(read).collect::<anyhow::Result<Vec<_>>>()?;

        let mut count = QueryBuilder::<Postgres>::new("SELECT COUNT(*) FROM tickets");
        push_filters(&mut count, query);
        let total: i64 = count.build().fetch_one(&self.pool).await?.try_get(0)?;
        Ok((tickets, u64::try_from(total).unwrap_or_default()))
    }

    async fn modify(
        &self,
        id: Id,
        claim: Option<Claim<'_>>,
        change: Change,
    ) -> anyhow::Result<Result<Modified, TicketError>> {
        let mut tx = self.pool.begin().await?;
        if let Some(claim) = claim
            && !outbox::claim(&mut tx, claim.consumer, claim.event_id).await?
        {
            return Ok(Ok(Modified::Duplicate));
        }
        let Some(mut ticket) = load(&mut tx, id, true).await? else {
            tx.commit().await?;
            return Ok(Ok(Modified::Missing));
        };
        let (events, deleted) = match change(&mut ticket) {
            Err(refusal) => return Ok(Err(refusal)),
            Ok(Decision::Keep) => {
                tx.commit().await?;
                return Ok(Ok(Modified::Unchanged(ticket)));
            }
            Ok(Decision::Save(events)) => (events, false),
            Ok(Decision::Delete(events)) => (events, true),
        };
        sqlx::query(
            "UPDATE tickets SET title = $1, price = $2, description = $3, order_id = $4, status = $5, \
             version = $6, deleted = $7 WHERE id = $8",
        )
        .bind(&ticket.title)
        .bind(ticket.price.minor())
        .bind(&ticket.description)
        .bind(ticket.order_id)
        .bind(ticket.status.as_str())
        .bind(ticket.version)
        .bind(deleted)
        .bind(ticket.id)
        .execute(&mut *tx)
        .await
        .context("saving ticket")?;
        for event in &events {
            outbox::enqueue(&mut tx, event).await?;
        }
        tx.commit().await?;
        if !events.is_empty() {
            self.outbox_written.notify_one();
        }
        Ok(Ok(Modified::Saved(ticket)))
    }

    async fn close_order(&self, order_id: Id) -> anyhow::Result<()> {
        sqlx::query("INSERT INTO closed_orders (order_id) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(order_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn is_order_closed(&self, order_id: Id) -> anyhow::Result<bool> {
        let row = sqlx::query("SELECT 1 FROM closed_orders WHERE order_id = $1")
            .bind(order_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    async fn claim_only(&self, claim: Claim<'_>) -> anyhow::Result<bool> {
        let mut tx = self.pool.begin().await?;
        let fresh = outbox::claim(&mut tx, claim.consumer, claim.event_id).await?;
        tx.commit().await?;
        Ok(fresh)
    }

    async fn park(&self, consumer: &str, event: &Envelope, reason: &str) -> anyhow::Result<()> {
        outbox::park(&self.pool, consumer, event, reason).await
    }

    async fn dead_letters(&self, consumer: &str) -> anyhow::Result<Vec<(Envelope, String)>> {
        outbox::dead_letters(&self.pool, consumer).await
    }

    fn outbox(&self) -> Arc<dyn OutboxStore> {
        Arc::new(PostgresOutbox::new(self.pool.clone()))
    }

    async fn ping(&self) -> anyhow::Result<()> {
        Ok(boxoffice_platform::db::postgres::ping(&self.pool).await?)
    }
}
