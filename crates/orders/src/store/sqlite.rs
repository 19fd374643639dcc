//! Orders and the ticket replica in the embedded mode's SQLite file.
//!
//! Reads go to the reader pool; every write transaction starts with `BEGIN IMMEDIATE` on
//! the single writer, which is what serialises changes here (no row locks in SQLite).

use std::sync::Arc;

use anyhow::Context;
use boxoffice_common::Id;
use boxoffice_platform::bus::Envelope;
use boxoffice_platform::db::sqlite::SqliteDb;
use boxoffice_platform::db::{DbId, is_unique_violation};
use boxoffice_platform::idempotency::IdempotencyKeys;
use boxoffice_platform::idempotency::sqlite::SqliteKeys;
use boxoffice_platform::outbox::sqlite as outbox;
use boxoffice_platform::store::{Claim, Decision, Modified, Plumbing};
use sqlx::SqliteConnection;
use tokio::sync::Notify;

use super::memory::Memory;
use super::{
    AccountLimit, OrderEdit, OrderModified, OrderStore, Placement, ReplicaDecision, ReplicaEdit,
    ReplicaOutcome, holds, reads, rows, sql,
};
use crate::domain::{LineGate, Order, OrderStatus, RoomGate, TicketReplica};

#[derive(Debug, Clone)]
pub struct SqliteOrderStore {
    db: SqliteDb,
    outbox_written: Arc<Notify>,
    /// Holds and replicas kept in step with this store's commits (see `memory`).
    memory: Arc<Memory>,
}

impl SqliteOrderStore {
    pub async fn open(db: SqliteDb, outbox_written: Arc<Notify>) -> anyhow::Result<Self> {
        sqlx::migrate!("migrations/sqlite")
            .run(&db.writer)
            .await
            .context("migrating the orders SQLite database")?;
        let holds: Vec<(DbId, DbId)> = sqlx::query_as(sql::ALL_HOLDS)
            .fetch_all(&db.writer)
            .await
            .context("loading the held tickets")?;
        let memory = Memory::with_holds(
            holds
                .into_iter()
                .map(|(ticket, order)| (ticket.into(), order.into())),
        );
        Ok(Self {
            db,
            outbox_written,
            memory: Arc::new(memory),
        })
    }
}

impl SqliteOrderStore {
    /// Applies one edit inside the open transaction `conn` (the order): what
    /// [`OrderStore::modify_all`] does for each, the commit left to it. The second value
    /// says whether events were written to the outbox.
    async fn apply_edit(
        &self,
        conn: &mut SqliteConnection,
        edit: OrderEdit<'_>,
    ) -> anyhow::Result<(OrderModified, bool)> {
        if let Some(claim) = edit.claim
            && !outbox::claim(conn, claim.consumer, claim.event_id).await?
        {
            return Ok((Modified::Duplicate, false));
        }
        let Some(mut order) = reads::order(&mut *conn, sql::ORDER_BY_ID, edit.id).await? else {
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
            self.memory
                .release(order.id, order.tickets().map(|ticket| ticket.id));
        }
        for event in &events {
            outbox::enqueue(conn, event).await?;
        }
        Ok((Modified::Saved(order), !events.is_empty()))
    }
}

/// Applies one replica or line update inside the open transaction `conn`: what
/// [`OrderStore::apply_to_replicas`] does for each, the commit left to it. The second
/// value is the replica saved, for the memory once committed.
async fn apply_replica_edit(
    conn: &mut SqliteConnection,
    edit: ReplicaEdit<'_>,
) -> anyhow::Result<(ReplicaOutcome, Option<TicketReplica>)> {
    match edit {
        ReplicaEdit::Ticket { id, claim, change } => {
            let current = reads::replica(&mut *conn, id).await?;
            let replica = match change(current.as_ref()) {
                // Leave the inbox alone too, so the redelivery is not taken for a duplicate.
                ReplicaDecision::NotYet => return Ok((ReplicaOutcome::NotYet, None)),
                ReplicaDecision::Keep => None,
                ReplicaDecision::Upsert(replica) => Some(replica),
            };
            if !outbox::claim(conn, claim.consumer, claim.event_id).await? {
                return Ok((ReplicaOutcome::Duplicate, None));
            }
            let Some(replica) = replica else {
                return Ok((ReplicaOutcome::Kept, None));
            };
            rows::bind_replica(sqlx::query(sql::UPSERT_TICKET), &replica)
                .execute(&mut *conn)
                .await
                .context("saving ticket replica")?;
            Ok((ReplicaOutcome::Applied, Some(replica)))
        }
        ReplicaEdit::Line { claim, gate } => {
            if !outbox::claim(conn, claim.consumer, claim.event_id).await? {
                return Ok((ReplicaOutcome::Duplicate, None));
            }
            let saved = rows::bind_line(sqlx::query(sql::UPSERT_LINE), &gate)
                .execute(&mut *conn)
                .await
                .context("saving a ticket's line")?;
            let outcome = if saved.rows_affected() == 1 {
                ReplicaOutcome::Applied
            } else {
                ReplicaOutcome::Kept
            };
            Ok((outcome, None))
        }
    }
}

#[async_trait::async_trait]
impl OrderStore for SqliteOrderStore {
    async fn ticket(&self, id: Id) -> anyhow::Result<Option<TicketReplica>> {
        reads::replica(&self.db.reader, id).await
    }

    async fn insert_within(
        &self,
        order: &Order,
        event: &Envelope,
        limits: &[AccountLimit],
    ) -> anyhow::Result<Placement> {
        // `BEGIN IMMEDIATE`: the only writer, so the counts below are the buyer's final
        // ones until this commits.
        let mut tx = self.db.begin_write().await?;
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
        let tickets = || order.tickets().map(|ticket| ticket.id);
        self.memory.hold(order.id, tickets());
        if let Err(err) = tx.commit().await {
            self.memory.release(order.id, tickets());
            return Err(err.into());
        }
        self.outbox_written.notify_one();
        Ok(Placement::Placed)
    }

    async fn get(&self, id: Id) -> anyhow::Result<Option<Order>> {
        reads::order(&self.db.reader, sql::ORDER_BY_ID, id).await
    }

    async fn for_user(&self, user: Id) -> anyhow::Result<Vec<Order>> {
        reads::orders_of(&self.db.reader, user).await
    }

    async fn modify_all(&self, edits: Vec<OrderEdit<'_>>) -> anyhow::Result<Vec<OrderModified>> {
        let tx = self.db.begin_write().await?;
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
        let mut tx = self.db.begin_write().await?;
        let mut outcomes = Vec::with_capacity(edits.len());
        let mut saved = Vec::new();
        for edit in edits {
            let (outcome, replica) = apply_replica_edit(&mut tx, edit).await?;
            outcomes.push(outcome);
            saved.extend(replica);
        }
        tx.commit().await?;
        for replica in &saved {
            self.memory.remember(replica);
        }
        Ok(outcomes)
    }

    async fn held_among(&self, tickets: &[Id]) -> anyhow::Result<Vec<Id>> {
        holds::held_among(&self.db.reader, tickets).await
    }

    async fn ticket_with_line(
        &self,
        id: Id,
    ) -> anyhow::Result<Option<(TicketReplica, Option<LineGate>)>> {
        let found = reads::ticket_with_line(&self.db.reader, id).await?;
        if let Some((replica, _)) = &found {
            self.memory.remember(replica);
        }
        Ok(found)
    }

    fn recall(&self, ticket: Id) -> Option<(TicketReplica, bool)> {
        self.memory.recall(ticket)
    }

    async fn room_gate(&self, event: Id) -> anyhow::Result<Option<RoomGate>> {
        reads::room_gate(&self.db.reader, event).await
    }

    async fn apply_room_gate(
        &self,
        claim: Claim<'_>,
        gate: &RoomGate,
    ) -> anyhow::Result<ReplicaOutcome> {
        let mut tx = self.db.begin_write().await?;
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
        Arc::new(SqliteKeys::new(self.db.clone()))
    }

    fn plumbing(&self) -> Arc<dyn Plumbing> {
        Arc::new(self.db.clone())
    }
}
