//! A small basket rush against an embedded BoxOffice — the `boxoffice` application built in
//! this process, as its `main` builds it, on SQLite files in a temporary directory — with
//! the invariant checker on its stores afterwards. It checks correctness, not speed: the
//! rush must produce both held and refused baskets, and every invariant must hold; then a
//! basket broken by hand in the stores must be caught, so the checker really reads them.

use std::time::Duration;

use boxoffice_app::application::Application;
use boxoffice_app::cli::Settings;
use boxoffice_loadgen::client::{Client, Minter};
use boxoffice_loadgen::invariants;
use boxoffice_loadgen::scenario::Limits;
use boxoffice_loadgen::scenario::basket::{self, BasketRush};
use boxoffice_platform::Secret;
use sqlx::Row;
use sqlx::sqlite::SqlitePool;
use tempfile::TempDir;
use tokio::sync::oneshot;

const KEY: &str = "loadgen-basket-test-key-0123456789abcdef";

/// A running embedded BoxOffice; stops when dropped.
struct Embedded {
    address: String,
    data_dir: TempDir,
    _stop: oneshot::Sender<()>,
}

async fn embedded() -> Embedded {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings::for_data_dir(data_dir.path());
    settings.jwt_key = Some(Secret::new(KEY));
    let app = Application::embedded(&settings)
        .await
        .expect("embedded app starts");
    let address = format!("http://{}", app.address());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    Embedded {
        address,
        data_dir,
        _stop: stop,
    }
}

async fn writable(app: &Embedded, name: &str) -> SqlitePool {
    let path = app.data_dir.path().join(format!("{name}.db"));
    SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("open store")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_basket_rush_holds_some_baskets_refuses_others_and_keeps_every_invariant() {
    let app = embedded().await;
    let config = BasketRush {
        events: 3,
        tickets: 36,
        buyers: 150,
        pay_share: 0.6,
        cancel_share: 0.2,
        limits: Limits {
            concurrency: 24,
            duration: Duration::from_secs(60),
            max_requests: 50_000,
        },
    };
    let setup = Client::new(&app.address, 8).expect("client");
    let (stock, buyers) = basket::set_up(&setup, &Minter::new(KEY), &config)
        .await
        .expect("set up");
    assert_eq!(stock.event_ids.len(), 3);
    assert!(stock.seats.iter().all(|seats| seats.len() == 12));
    let client = Client::new(&app.address, 24).expect("client");
    let outcome = basket::run(&client, stock, buyers, &config)
        .await
        .expect("run");
    eprintln!("{outcome:#?}");

    assert!(outcome.won > 0, "some baskets were held: {outcome:#?}");
    assert!(
        outcome.refused > 0,
        "some baskets were refused: {outcome:#?}"
    );
    assert_eq!(outcome.other, 0, "only 201 or 400: {outcome:#?}");
    assert_eq!(outcome.failed_follow_ups, 0, "{outcome:#?}");
    assert_eq!(outcome.attempts, outcome.won + outcome.refused);
    assert!(outcome.tickets_won >= 2 * outcome.won && outcome.tickets_won <= 4 * outcome.won);
    assert_eq!(
        outcome.won,
        outcome.paid + outcome.cancelled + outcome.left_held
    );

    let verdict = invariants::check_converged(app.data_dir.path(), Duration::from_secs(30))
        .await
        .expect("check");
    assert!(
        verdict.holds(),
        "invariants violated: {:#?}",
        verdict.violations
    );
    assert_eq!(verdict.unsent_events, 0);
    assert_eq!(
        verdict.basket_orders, outcome.won,
        "every order is a basket"
    );
    assert_eq!(verdict.completed_orders, outcome.paid);
    assert_eq!(verdict.succeeded_payments, outcome.paid);
    assert_eq!(verdict.completed_tickets, outcome.tickets_paid);
    assert_eq!(verdict.sold_tickets, outcome.tickets_paid);

    the_checker_catches_a_basket_broken_in_the_stores(&app).await;
}

/// Frees one ticket of a paid basket and halves its payment behind the services' backs.
async fn the_checker_catches_a_basket_broken_in_the_stores(app: &Embedded) {
    let orders = writable(app, "orders").await;
    let paid = sqlx::query(
        "SELECT id FROM orders WHERE status = 'complete' AND more_tickets IS NOT NULL LIMIT 1",
    )
    .fetch_optional(&orders)
    .await
    .expect("query");
    let Some(paid) = paid else {
        panic!("no basket was paid for, so none can be broken");
    };
    let order: String = paid.get(0);
    sqlx::query(
        "DELETE FROM ticket_holds WHERE rowid = \
         (SELECT rowid FROM ticket_holds WHERE order_id = ? LIMIT 1)",
    )
    .bind(&order)
    .execute(&orders)
    .await
    .expect("free one ticket");
    let payments = writable(app, "payments").await;
    sqlx::query("UPDATE payments SET amount = amount / 2 WHERE order_id = ?")
        .bind(&order)
        .execute(&payments)
        .await
        .expect("halve the payment");

    let verdict = invariants::check(app.data_dir.path()).await.expect("check");
    for expected in [
        format!("order {order} (complete) holds"),
        format!("for order {order}, whose"),
    ] {
        assert!(
            verdict.violations.iter().any(|v| v.contains(&expected)),
            "expected {expected:?} among {:#?}",
            verdict.violations
        );
    }
}
