//! Orders and the ticket replica in the distributed mode's PostgreSQL database.
//!
//! Several instances of the service share the database: a change locks its order row
//! (`FOR UPDATE`), a replica update takes a per-ticket advisory lock. A ticket new to
//! the replica is announced (`NOTIFY`) in the transaction that adds it, so a request
//! waiting for it in any replica is woken on commit (platform's `fresh` module).

use std::sync::Arc;

use anyhow::Context;
use boxoffice_common::Id;
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::db::{DbId, is_unique_violation};
use boxoffice_platform::fresh;
use boxoffice_platform::idempotency::IdempotencyKeys;
use boxoffice_platform::idempotency::postgres::PostgresKeys;
use boxoffice_platform::outbox::postgres as outbox;
use boxoffice_platform::store::{Claim, Decision, Modified, Plumbing};
use sqlx::PgConnection;
use sqlx::postgres::PgPool;
use tokio::sync::Notify;

use super::{
    AccountLimit, OrderEdit, OrderModified, OrderStore, Placement, ReplicaDecision, ReplicaEdit,
    ReplicaOutcome, holds, reads, rows, sql,
};
use crate::domain::{LineGate, Order, OrderStatus, RoomGate, TicketReplica};

#[derive(Debug, Clone)]
pub struct PostgresOrderStore {
    pool: PgPool,
    outbox_written: Arc<Notify>,
}

impl PostgresOrderStore {
    /// Brings the schema up to date (safe from several replicas at once).
    pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
        sqlx::migrate!("migrations/postgres")
            .run(pool)
            .await
            .context("migrating the orders PostgreSQL database")
    }

    pub async fn open(pool: PgPool, outbox_written: Arc<Notify>) -> anyhow::Result<Self> {
        Self::migrate(&pool).await?;
        Ok(Self {
            pool,
            outbox_written,
        })
    }
}

impl PostgresOrderStore {
    /// Applies one edit inside the open transaction `conn` (the order, locked until it ends): what
    /// [`OrderStore::modify_all`] does for each, the commit left to it. The second value
    /// says whether events were written to the outbox.
    async fn apply_edit(
        &self,
        conn: &mut PgConnection,
        edit: OrderEdit<'_>,
    ) -> anyhow::Result<(OrderModified, bool)> {
        if let Some(claim) = edit.claim
            && !outbox::claim(conn, claim.consumer, claim.event_id).await?
        {
            return Ok((Modified::Duplicate, false));
        }
        let Some(mut order) =
            reads::order(&mut *conn, sql::ORDER_BY_ID_FOR_UPDATE_PG, edit.id).await?
        else {
            return Ok((Modified::Missing, false));
        };
        let events = match (edit.change)(&mut order) {
            Err(refusal) => return Ok((Modified::Refused(refusal), false)),
            Ok(Decision::Keep) => return Ok((Modified::Unchanged(order), false)),
            Ok(Decision::Save(events)) => events,
        };
        rows::bind_order_update(sqlx::query(sql::UPDATE_ORDER), &order)
            .execute(&mut *conn)
            .await
            .context("saving order")?;
        if order.status == OrderStatus::Cancelled {
            sqlx::query(sql::RELEASE_HOLDS)
                .bind(DbId(order.id))
                .execute(&mut *conn)
                .await
                .context("freeing the order's tickets")?;
        }
        for event in &events {
            outbox::enqueue(conn, event).await?;
        }
        Ok((Modified::Saved(order), !events.is_empty()))
    }
}

/// Applies one replica or line update inside the open transaction `conn`: what
/// [`OrderStore::apply_to_replicas`] does for each, the commit left to it.
async fn apply_replica_edit(
    conn: &mut PgConnection,
    edit: ReplicaEdit<'_>,
) -> anyhow::Result<ReplicaOutcome> {
    match edit {
        ReplicaEdit::Ticket { id, claim, change } => {
            // Until the transaction ends: replicas applying the same ticket take turns.
            sqlx::query(sql::LOCK_TICKET_PG)
                .bind(DbId(id))
                .execute(&mut *conn)
                .await?;
            let current = reads::replica(&mut *conn, id).await?;
            let replica = match change(current.as_ref()) {
                // Leave the inbox alone too, so the redelivery is not taken for a duplicate.
                ReplicaDecision::NotYet => return Ok(ReplicaOutcome::NotYet),
                ReplicaDecision::Keep => None,
                ReplicaDecision::Upsert(replica) => Some(replica),
            };
            if !outbox::claim(conn, claim.consumer, claim.event_id).await? {
                return Ok(ReplicaOutcome::Duplicate);
            }
            let Some(replica) = replica else {
                return Ok(ReplicaOutcome::Kept);
            };
            rows::bind_replica(sqlx::query(sql::UPSERT_TICKET), &replica)
                .execute(&mut *conn)
                .await
                .context("saving ticket replica")?;
            if current.is_none() {
                fresh::postgres::announce(conn, id)
                    .await
                    .context("announcing a new ticket")?;
            }
            Ok(ReplicaOutcome::Applied)
        }
        ReplicaEdit::Line { claim, gate } => {
            if !outbox::claim(conn, claim.consumer, claim.event_id).await? {
                return Ok(ReplicaOutcome::Duplicate);
            }
            let saved = rows::bind_line(sqlx::query(sql::UPSERT_LINE), &gate)
                .execute(&mut *conn)
                .await
                .context("saving a ticket's line")?;
            Ok(if saved.rows_affected() == 1 {
                ReplicaOutcome::Applied
            } else {
                ReplicaOutcome::Kept
            })
        }
    }
}

#[async_trait::async_trait]
impl OrderStore for PostgresOrderStore {
    async fn ticket(&self, id: Id) -> anyhow::Result<Option<TicketReplica>> {
        reads::replica(&self.pool, id).await
    }

    async fn insert_within(
        &self,
        order: &Order,
        event: &Envelope,
        limits: &[AccountLimit],
    ) -> anyhow::Result<Placement> {
        let mut tx = self.pool.begin().await?;
        // One order of a buyer for a limited event at a time, across every instance: the
        // count below is then theirs alone until this commits. Locks are taken in event
        // order so two baskets spanning the same events wait rather than deadlock.
        let mut events: Vec<Id> = limits.iter().map(|limit| limit.event_id).collect();
        events.sort_unstable();
        for event_id in events {
            sqlx::query(sql::LOCK_BUYER_EVENT_PG)
                .bind(DbId(order.user_id))
                .bind(DbId(event_id))
                .execute(&mut *tx)
                .await
                .context("locking a buyer's orders for an event")?;
        }
        match rows::bind_new_order(sqlx::query(sql::INSERT_ORDER), order)
            .execute(&mut *tx)
            .await
        {
            Ok(_) => {}
            Err(err) if is_unique_violation(&err) => return Ok(Placement::Held),
            Err(err) => return Err(anyhow::Error::new(err).context("inserting order")),
        }
        match holds::hold(&mut *tx, order).await {
            Ok(()) => {}
            Err(err) if is_unique_violation(&err) => return Ok(Placement::Held),
            Err(err) => return Err(anyhow::Error::new(err).context("holding tickets")),
        }
        for limit in limits {
            let held = reads::tickets_of_buyer_for_event(&mut *tx, order.user_id, limit.event_id)
                .await
                .context("counting a buyer's tickets for an event")?;
            if held > i64::from(limit.limit) {
                return Ok(Placement::OverLimit);
            }
        }
        outbox::enqueue(&mut tx, event).await?;
        tx.commit().await?;
        self.outbox_written.notify_one();
        Ok(Placement::Placed)
    }

    async fn get(&self, id: Id) -> anyhow::Result<Option<Order>> {
        reads::order(&self.pool, sql::ORDER_BY_ID, id).await
    }

    async fn for_user(&self, user: Id) -> anyhow::Result<Vec<Order>> {
        reads::orders_of(&self.pool, user).await
    }

    async fn modify_all(&self, edits: Vec<OrderEdit<'_>>) -> anyhow::Result<Vec<OrderModified>> {
        let tx = self.pool.begin().await?;
        let (outcomes, wrote_events) =
            boxoffice_platform::apply_edits!(tx, edits, |conn, edit| self.apply_edit(conn, edit))?;
        if wrote_events {
            self.outbox_written.notify_one();
        }
        Ok(outcomes)
    }

    async fn apply_to_replicas(
        &self,
        edits: Vec<ReplicaEdit<'_>>,
    ) -> anyhow::Result<Vec<ReplicaOutcome>> {
        let mut tx = self.pool.begin().await?;
        let mut outcomes = Vec::with_capacity(edits.len());
        for edit in edits {
            outcomes.push(apply_replica_edit(&mut tx, edit).await?);
        }
        tx.commit().await?;
        Ok(outcomes)
    }

    async fn held_among(&self, tickets: &[Id]) -> anyhow::Result<Vec<Id>> {
        holds::held_among(&self.pool, tickets).await
    }

    async fn ticket_with_line(
        &self,
        id: Id,
    ) -> anyhow::Result<Option<(TicketReplica, Option<LineGate>)>> {
        reads::ticket_with_line(&self.pool, id).await
    }

    async fn room_gate(&self, event: Id) -> anyhow::Result<Option<RoomGate>> {
        reads::room_gate(&self.pool, event).await
    }

    async fn apply_room_gate(
        &self,
        claim: Claim<'_>,
        gate: &RoomGate,
    ) -> anyhow::Result<ReplicaOutcome> {
        let mut tx = self.pool.begin().await?;
        if !outbox::claim(&mut tx, claim.consumer, claim.event_id).await? {
            return Ok(ReplicaOutcome::Duplicate);
        }
        let saved = rows::bind_room_gate(sqlx::query(sql::UPSERT_ROOM_GATE), gate)
            .execute(&mut *tx)
            .await
            .context("saving an event's room gate")?;
        tx.commit().await?;
        Ok(if saved.rows_affected() == 1 {
            ReplicaOutcome::Applied
        } else {
            ReplicaOutcome::Kept
        })
    }

    fn idempotency(&self) -> Arc<dyn IdempotencyKeys> {
        Arc::new(PostgresKeys::new(self.pool.clone()))
    }

    fn plumbing(&self) -> Arc<dyn Plumbing> {
        Arc::new(self.pool.clone())
    }
}
