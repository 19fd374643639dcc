//! Tickets in the embedded mode's SQLite file.

use std::sync::Arc;

use anyhow::Context;
use boxoffice_common::{Id, Money};
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::db::sqlite::{SqliteDb, parse_time, time_text};
use boxoffice_platform::outbox::OutboxStore;
use boxoffice_platform::outbox::sqlite::{self as outbox, SqliteOutbox};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};
use tokio::sync::Notify;

use super::{
    Change, Claim, Decision, ListQuery, Modified, Sort, StatusFilter, TicketStore, like_pattern,
};
use crate::domain::{Ticket, TicketError, TicketStatus};

const COLUMNS: &str =
    "id, title, price, description, user_id, order_id, status, version, created_at";

#[derive(Debug, Clone)]
pub struct SqliteTicketStore {
    db: SqliteDb,
    /// Told after every commit that wrote outbox rows, to wake the relay.
    outbox_written: Arc<Notify>,
}

impl SqliteTicketStore {
    pub async fn open(db: SqliteDb, outbox_written: Arc<Notify>) -> anyhow::Result<Self> {
        sqlx::migrate!("migrations/sqlite")
            .run(&db.writer)
            .await
            .context("migrating the tickets SQLite database")?;
        Ok(Self { db, outbox_written })
    }
}

fn read(row: &SqliteRow) -> anyhow::Result<Ticket> {
    let id: String = row.try_get("id")?;
    let user_id: String = row.try_get("user_id")?;
    let order_id: Option<String> = row.try_get("order_id")?;
    let status: String = row.try_get("status")?;
    let created_at: String = row.try_get("created_at")?;
    Ok(Ticket {
        id: id.parse()?,
        title: row.try_get("title")?,
        price: Money::from_minor(row.try_get("price")?),
        description: row.try_get("description")?,
        user_id: user_id.parse()?,
        order_id: order_id.map(|o| o.parse()).transpose()?,
        status: TicketStatus::parse(&status).context("stored status")?,
        version: row.try_get("version")?,
        created_at: parse_time(&created_at)?,
    })
}

async fn load(conn: &mut SqliteConnection, id: Id) -> anyhow::Result<Option<Ticket>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM tickets WHERE id = ? AND deleted = 0"
    )))
    .bind(id.to_string())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(read).transpose()
}

/// Appends the WHERE clause shared by the page and the count.
fn push_filters(builder: &mut QueryBuilder<Sqlite>, query: &ListQuery) {
    builder.push(" WHERE deleted = 0");
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
        builder
            .push(" AND user_id = ")
            .push_bind(seller.to_string());
    }
}

#[async_trait::async_trait]
impl TicketStore for SqliteTicketStore {
    async fn insert(&self, ticket: &Ticket, event: &Envelope) -> anyhow::Result<()> {
        let mut tx = self.db.begin_write().await?;
        sqlx::query(
            "INSERT INTO tickets (id, title, price, description, user_id, order_id, status, version, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(ticket.id.to_string())
        .bind(&ticket.title)
        .bind(ticket.price.minor())
        .bind(&ticket.description)
        .bind(ticket.user_id.to_string())
        .bind(ticket.order_id.map(|o| o.to_string()))
        .bind(ticket.status.as_str())
        .bind(ticket.version)
        .bind(time_text(ticket.created_at))
        .execute(&mut *tx)
        .await
        .context("inserting ticket")?;
        outbox::enqueue(&mut tx, event).await?;
        tx.commit().await?;
        self.outbox_written.notify_one();
        Ok(())
    }

    async fn get(&self, id: Id) -> anyhow::Result<Option<Ticket>> {
        let mut conn = self.db.reader.acquire().await?;
        load(&mut conn, id).await
    }

    async fn list(&self, query: &ListQuery) -> anyhow::Result<(Vec<Ticket>, u64)> {
        let mut page = QueryBuilder::<Sqlite>::new("SELECT ");
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
            .fetch_all(&self.db.reader)
            .await
            .context("listing tickets")?;
        let tickets = rows.iter().map(read).collect::<anyhow::Result<Vec<_>>>()?;

        let mut count = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM tickets");
        push_filters(&mut count, query);
        let total: i64 = count.build().fetch_one(&self.db.reader).await?.try_get(0)?;
        Ok((tickets, u64::try_from(total).unwrap_or_default()))
    }

    async fn modify(
        &self,
        id: Id,
        claim: Option<Claim<'_>>,
        change: Change,
    ) -> anyhow::Result<Result<Modified, TicketError>> {
        let mut tx = self.db.begin_write().await?;
        if let Some(claim) = claim
            && !outbox::claim(&mut tx, claim.consumer, claim.event_id).await?
        {
            return Ok(Ok(Modified::Duplicate));
        }
        let Some(mut ticket) = load(&mut tx, id).await? else {
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
            "UPDATE tickets SET title = ?, price = ?, description = ?, order_id = ?, status = ?, \
             version = ?, deleted = ? WHERE id = ?",
        )
        .bind(&ticket.title)
        .bind(ticket.price.minor())
        .bind(&ticket.description)
        .bind(ticket.order_id.map(|o| o.to_string()))
        .bind(ticket.status.as_str())
        .bind(ticket.version)
        .bind(deleted)
        .bind(ticket.id.to_string())
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
        sqlx::query("INSERT INTO closed_orders (order_id) VALUES (?) ON CONFLICT DO NOTHING")
            .bind(order_id.to_string())
            .execute(&self.db.writer)
            .await?;
        Ok(())
    }

    async fn is_order_closed(&self, order_id: Id) -> anyhow::Result<bool> {
        let row = sqlx::query("SELECT 1 FROM closed_orders WHERE order_id = ?")
            .bind(order_id.to_string())
            .fetch_optional(&self.db.reader)
            .await?;
        Ok(row.is_some())
    }

    async fn claim_only(&self, claim: Claim<'_>) -> anyhow::Result<bool> {
        let mut tx = self.db.begin_write().await?;
        let fresh = outbox::claim(&mut tx, claim.consumer, claim.event_id).await?;
        tx.commit().await?;
        Ok(fresh)
    }

    async fn park(&self, consumer: &str, event: &Envelope, reason: &str) -> anyhow::Result<()> {
        outbox::park(&self.db, consumer, event, reason).await
    }

    async fn dead_letters(&self, consumer: &str) -> anyhow::Result<Vec<(Envelope, String)>> {
        outbox::dead_letters(&self.db, consumer).await
    }

    fn outbox(&self) -> Arc<dyn OutboxStore> {
        Arc::new(SqliteOutbox::new(self.db.clone()))
    }

    async fn ping(&self) -> anyhow::Result<()> {
        Ok(self.db.ping().await?)
    }
}
