//! Crashes in the distributed mode: the orders service is killed with SIGKILL in the
//! middle of a burst of orders and started again, then the NATS server is killed and
//! started again. Every order must reach its final state and the tickets, orders and
//! payments stores must agree.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use boxoffice_app::application::Application;
use boxoffice_app::cli::{Service, Settings};
use boxoffice_platform::Secret;
use boxoffice_platform::testing::{TestDatabase, TestNats};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::Row;

use crate::helpers::{
    ADMISSION_KEY, EVENTUALLY, TEST_KEY, TestApp, User, WEBHOOK_SECRET, eventually, start,
};

fn settings(database: &TestDatabase, nats: &TestNats) -> Settings {
    let mut settings = Settings::for_data_dir("unused");
    settings.jwt_key = Some(Secret::new(TEST_KEY));
    settings.room_admission_key = Some(Secret::new(ADMISSION_KEY));
    settings.database_url = Some(Secret::new(database.url()));
    settings.nats_url = Some(nats.url().to_owned());
    settings.stripe_webhook_secret = Some(Secret::new(WEBHOOK_SECRET));
    settings
}

/// `boxoffice serve orders` as a real process, so it can be killed for real.
struct OrdersProcess {
    child: Child,
    port: u16,
}

impl OrdersProcess {
    async fn start(database: &TestDatabase, nats: &TestNats, port: u16) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_boxoffice"))
            .args(["serve", "orders", "--port", &port.to_string()])
            .env("JWT_KEY", TEST_KEY)
            .env("ROOM_ADMISSION_KEY", ADMISSION_KEY)
            .env("DATABASE_URL", database.url())
            .env("NATS_URL", nats.url())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("orders process");
        let process = Self { child, port };
        let client = reqwest::Client::new();
        eventually("the orders process is ready", || async {
            client
                .get(format!("http://127.0.0.1:{port}/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        })
        .await;
        process
    }

    fn kill_hard(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }
}

impl Drop for OrdersProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn count(url: &str, sql: &'static str) -> i64 {
    let pool = sqlx::PgPool::connect(url).await.expect("connect");
    let n = sqlx::query(sql)
        .fetch_one(&pool)
        .await
        .expect("query")
        .try_get::<i64, _>(0)
        .expect("count");
    pool.close().await;
    n
}

#[tokio::test]
async fn orders_and_nats_crashes_lose_nothing_and_the_stores_agree() {
    boxoffice_platform::telemetry::init_tracing(Default::default());
    let mut nats = TestNats::start().await.expect("nats");
    let db = |name: &'static str| TestDatabase::create(name);
    let (auth_db, tickets_db, orders_db, payments_db, jobs_db) = (
        db("boxoffice_crash_auth").await.expect("db"),
        db("boxoffice_crash_tickets").await.expect("db"),
        db("boxoffice_crash_orders").await.expect("db"),
        db("boxoffice_crash_payments").await.expect("db"),
        db("boxoffice_crash_expiration").await.expect("db"),
    );
    let serve = |service, database| {
        let settings = settings(database, &nats);
        async move {
            start(
                Application::service(service, &settings)
                    .await
                    .expect("service"),
                None,
                None,
            )
        }
    };
    let auth = serve(Service::Auth, &auth_db).await;
    let tickets = serve(Service::Tickets, &tickets_db).await;
    let payments = serve(Service::Payments, &payments_db).await;
    let _expiration = serve(Service::Expiration, &jobs_db).await;
    let orders_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let mut orders_process = OrdersProcess::start(&orders_db, &nats, orders_port).await;
    let orders = TestApp::at(&format!("http://127.0.0.1:{}", orders_process.port));

    const N: usize = 30;
    let seller = auth.user().await;
    let mut ticket_ids = Vec::new();
    for i in 0..N {
        let ticket = tickets
            .listed_ticket(&seller, &format!("Seat {i}"), 10.0)
            .await;
        ticket_ids.push(ticket["id"].as_str().expect("id").to_owned());
    }
    let mut buyers: Vec<User> = Vec::new();
    for _ in 0..N {
        buyers.push(auth.user().await);
    }
    // Wait until the orders service knows every ticket (the last one's seller gets 400).
    assert_eq!(
        orders
            .order(&seller, ticket_ids.last().expect("ticket"))
            .await
            .status,
        400
    );

    // The burst: every buyer orders their own seat at once; the orders process dies
    // with SIGKILL once a third of the answers are in.
    let answered = Arc::new(AtomicUsize::new(0));
    let burst: Vec<_> = buyers
        .iter()
        .zip(&ticket_ids)
        .map(|(buyer, ticket)| {
            let request = orders
                .as_user(buyer, Method::POST, "/api/orders")
                .json(&json!({ "ticketId": ticket }));
            let answered = Arc::clone(&answered);
            tokio::spawn(async move {
                let outcome = request.send().await.map(|r| r.status().as_u16()).ok();
                answered.fetch_add(1, Ordering::SeqCst);
                outcome
            })
        })
        .collect();
    eventually("a third of the burst is answered", || async {
        answered.load(Ordering::SeqCst) >= N / 3
    })
    .await;
    orders_process.kill_hard();
    let mut outcomes = Vec::new();
    for request in burst {
        outcomes.push(request.await.expect("task"));
    }
    assert!(
        outcomes.iter().any(Option::is_none) || outcomes.iter().all(|o| *o == Some(201)),
        "{outcomes:?}"
    );

    // Back up; then the NATS server crashes and comes back too.
    let _restarted = OrdersProcess::start(&orders_db, &nats, orders_port).await;
    nats.crash_and_restart().await.expect("nats restart");

    // Every buyer ends up with exactly one order for their seat — placed before the crash
    // (found in their order list) or placed now — and pays for it.
    for (buyer, ticket) in buyers.iter().zip(&ticket_ids) {
        let mine = orders
            .send(orders.as_user(buyer, Method::GET, "/api/orders"))
            .await
            .body;
        let existing = mine
            .as_array()
            .expect("orders")
            .iter()
            .find(|o| o["ticket"]["id"] == ticket.as_str())
            .cloned();
        let order: Value = match existing {
            Some(order) => order,
            None => {
                let placed = orders.order(buyer, ticket).await;
                assert_eq!(placed.status, 201, "{}", placed.body);
                placed.body
            }
        };
        let order_id = order["id"].as_str().expect("id").to_owned();
        let deadline = tokio::time::Instant::now() + EVENTUALLY * 2;
        let paid = loop {
            let reply = payments
                .client
                .post(payments.url("/api/payments"))
                .header("cookie", &buyer.cookie)
                .json(&json!({"orderId": order_id, "token": "tok_visa"}))
                .send()
                .await;
            if let Ok(reply) = reply {
                let status = reply.status().as_u16();
                if status != 404 || tokio::time::Instant::now() >= deadline {
                    break status;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(paid, 201, "payment for order {order_id}");
    }

    // Reconciliation: the three stores agree on every seat.
    let n = N as i64;
    eventually("every order completes", || async {
        count(
            orders_db.url(),
            "SELECT COUNT(*) FROM orders WHERE status = 'complete'",
        )
        .await
            == n
    })
    .await;
    eventually("every ticket is sold", || async {
        count(
            tickets_db.url(),
            "SELECT COUNT(*) FROM tickets WHERE status = 'sold'",
        )
        .await
            == n
    })
    .await;
    assert_eq!(
        count(orders_db.url(), "SELECT COUNT(*) FROM orders").await,
        n,
        "no order twice"
    );
    assert_eq!(
        count(
            payments_db.url(),
            "SELECT COUNT(*) FROM payments WHERE status = 'succeeded'"
        )
        .await,
        n
    );
    assert_eq!(count(payments_db.url(), "SELECT COUNT(*) FROM (SELECT order_id FROM payments WHERE status = 'succeeded' GROUP BY order_id HAVING COUNT(*) > 1) AS twice").await, 0);
    for (db, consumer) in [
        (&tickets_db, "tickets"),
        (&orders_db, "orders"),
        (&payments_db, "payments"),
    ] {
        let parked = count(db.url(), "SELECT COUNT(*) FROM dead_letter").await;
        assert_eq!(parked, 0, "{consumer} parked events");
    }
}
