//! The payments store under test, on each database.

use std::sync::Arc;

use boxoffice_common::{Id, Money};
use boxoffice_payments::domain::{OrderReplica, OrderState};
use boxoffice_payments::store::{Claim, PaymentStore, PostgresPaymentStore, SqlitePaymentStore};
use boxoffice_platform::testing::{postgres_db, sqlite_db};
use tokio::sync::Notify;

pub type Subject = boxoffice_platform::testing::Subject<dyn PaymentStore>;

pub async fn sqlite() -> Subject {
    let (db, dir) = sqlite_db("payments").await.expect("sqlite");
    let store = SqlitePaymentStore::open(db, Arc::new(Notify::new()))
        .await
        .expect("migrate");
    Subject::new(Arc::new(store), dir)
}

pub async fn postgres() -> Subject {
    let (pool, database) = postgres_db("boxoffice_payments").await.expect("postgres");
    let store = PostgresPaymentStore::open(pool, Arc::new(Notify::new()))
        .await
        .expect("migrate");
    Subject::new(Arc::new(store), database)
}

/// An inbox claim of the payments consumer.
pub fn claim(event_id: Id) -> Claim<'static> {
    Claim {
        consumer: "payments",
        event_id,
    }
}

/// Order `id` for 20.00, bought by the nil user, as the replica knows it.
pub fn replica(id: Id, state: OrderState, version: i64) -> OrderReplica {
    OrderReplica {
        id,
        user_id: Id::nil(),
        amount: Money::from_minor(2000),
        state,
        version,
    }
}
