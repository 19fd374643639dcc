//! A small flash sale through the load generator, with the invariant checker on the
//! stores afterwards: the CI smoke run. It checks correctness, not speed.

use std::time::Duration;

use boxoffice_loadgen::client::{Client, Minter};
use boxoffice_loadgen::invariants;
use boxoffice_loadgen::scenario::Limits;
use boxoffice_loadgen::scenario::flash_sale::{self, FlashSale};

use crate::helpers::{TEST_KEY, spawn_app};

async fn sale(hot: Option<usize>) {
    let app = spawn_app().await;
    let config = FlashSale {
        sellers: 3,
        tickets: 30,
        buyers: 120,
        hot,
        limits: Limits {
            concurrency: 24,
            duration: Duration::from_secs(60),
            max_requests: 50_000,
        },
    };
    let setup = Client::new(&app.address, 8).expect("client");
    let (tickets, buyers) = flash_sale::set_up(&setup, &Minter::new(TEST_KEY), &config)
        .await
        .expect("set up");
    let client = Client::new(&app.address, 24).expect("client");
    let outcome = flash_sale::run(&client, tickets, buyers, &config)
        .await
        .expect("run");

    let on_offer = hot.unwrap_or(config.tickets) as u64;
    assert_eq!(outcome.orders_placed, on_offer, "{outcome:?}");
    assert_eq!(outcome.payments_succeeded, on_offer, "{outcome:?}");
    assert!(outcome.order_attempts >= on_offer);

    let verdict = invariants::check_converged(app.data_dir(), Duration::from_secs(30))
        .await
        .expect("check");
    assert!(
        verdict.holds(),
        "invariants violated: {:#?}",
        verdict.violations
    );
    assert_eq!(verdict.unsent_events, 0);
    assert_eq!(
        (
            verdict.sold_tickets,
            verdict.completed_orders,
            verdict.succeeded_payments
        ),
        (on_offer, on_offer, on_offer)
    );
}

#[tokio::test]
async fn a_flash_sale_on_random_tickets_keeps_every_invariant() {
    sale(None).await;
}

#[tokio::test]
async fn a_flash_sale_on_a_hot_subset_keeps_every_invariant() {
    sale(Some(5)).await;
}

#[tokio::test]
async fn the_checker_reports_stores_that_disagree() {
    let app = spawn_app().await;
    let seller = app.user().await;
    let ticket = app.listed_ticket(&seller, "Never ordered", 10.0).await;
    let clean = invariants::check_converged(app.data_dir(), Duration::from_secs(30))
        .await
        .expect("check");
    assert!(clean.holds(), "{:#?}", clean.violations);

    // Sell the ticket behind the orders service's back.
    let db = boxoffice_platform::db::sqlite::SqliteDb::open(&app.data_dir().join("tickets.db"))
        .await
        .expect("open");
    sqlx::query("UPDATE tickets SET status = 'sold', order_id = ? WHERE id = ?")
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(ticket["id"].as_str().expect("id"))
        .execute(&db.writer)
        .await
        .expect("corrupt");
    let verdict = invariants::check(app.data_dir()).await.expect("check");
    assert!(!verdict.holds());
    assert!(
        verdict
            .violations
            .iter()
            .any(|v| v.contains("1 tickets sold but 0 orders completed")),
        "{:#?}",
        verdict.violations
    );
    app.assert_settled().await;
}

#[tokio::test]
async fn a_rush_into_the_lines_hands_out_every_place_once_in_order() {
    use boxoffice_loadgen::scenario::line_rush::{self, LineRush};

    let app = spawn_app().await;
    let config = LineRush {
        tickets: 3,
        buyers: 300,
        limits: Limits {
            concurrency: 32,
            duration: Duration::from_secs(60),
            max_requests: 50_000,
        },
    };
    let setup = Client::new(&app.address, 8).expect("client");
    let (tickets, buyers) = line_rush::set_up(&setup, &Minter::new(TEST_KEY), &config)
        .await
        .expect("set up");
    let client = Client::new(&app.address, 32).expect("client");
    let outcome = line_rush::run(&client, tickets, buyers, &config)
        .await
        .expect("run");
    assert_eq!((outcome.joins, outcome.refused), (300, 0), "{outcome:?}");
    assert_eq!(outcome.longest_line, 100, "{outcome:?}");
    assert_eq!(outcome.place_errors, 0, "{outcome:?}");
    app.assert_settled().await;
}
