//! The local distributed topology exactly as `scripts/distributed` starts it — NATS, five
//! services on PostgreSQL and the queue on Redis, nginx in front — and the buyer journey
//! through the ingress, the line and its live feed included.

use std::process::Command;

use reqwest::Method;
use serde_json::json;

use crate::helpers::{TestApp, eventually};
use crate::queue;

/// Starts the topology on free ports with its own databases; stops it and drops them
/// when dropped.
struct Topology {
    env: Vec<(String, String)>,
    _run_dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A base port whose next seven ports (the services' and the web UI's) are free right now.
fn free_block() -> u16 {
    let mut rng = fastrand::Rng::new();
    for _ in 0..100 {
        let base = rng.u16(20_000..60_000);
        let free = (1..=7).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok());
        if free {
            return base;
        }
    }
    panic!("no block of seven free ports")
}

impl Topology {
    fn script(&self, command: &str) -> std::process::Output {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/distributed");
        Command::new(script)
            .arg(command)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .expect("scripts/distributed runs")
    }

    fn start() -> (Self, String) {
        let run_dir = tempfile::tempdir().expect("run dir");
        let base = free_block();
        let ingress = free_port();
        let env = vec![
            (
                "BOXOFFICE_BIN".to_owned(),
                env!("CARGO_BIN_EXE_boxoffice").to_owned(),
            ),
            ("RUN_DIR".to_owned(), run_dir.path().display().to_string()),
            ("INGRESS_PORT".to_owned(), ingress.to_string()),
            ("SERVICE_PORT_BASE".to_owned(), base.to_string()),
            ("NATS_PORT".to_owned(), free_port().to_string()),
            (
                "DB_PREFIX".to_owned(),
                format!("boxoffice_topo_{}", uuid::Uuid::now_v7().simple()),
            ),
            ("DROP_DATABASES".to_owned(), "1".to_owned()),
        ];
        let topology = Self {
            env,
            _run_dir: run_dir,
        };
        let started = topology.script("start");
        assert!(
            started.status.success(),
            "scripts/distributed start failed:\n{}\n{}",
            String::from_utf8_lossy(&started.stdout),
            String::from_utf8_lossy(&started.stderr)
        );
        (topology, format!("http://127.0.0.1:{ingress}"))
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        let _ = self.script("stop");
    }
}

#[tokio::test]
async fn the_buyer_journey_runs_through_the_ingress() {
    let (_topology, address) = Topology::start();
    let app = TestApp::at(&address);

    let seller = app.user().await;
    let buyer = app.user().await;
    let ticket = app.listed_ticket(&seller, "Concert", 20.5).await;
    let ticket_id = ticket["id"].as_str().expect("id").to_owned();
    let order = app.order(&buyer, &ticket_id).await;
    assert_eq!(order.status, 201, "{}", order.body);
    let order_id = order.body["id"].as_str().expect("id").to_owned();

    let paid = app.pay(&buyer, &order_id, "tok_visa").await;
    assert_eq!(
        (paid.status, paid.body["status"].clone()),
        (201, json!("succeeded")),
        "{}",
        paid.body
    );
    eventually("the order completes", || async {
        app.order_of(&buyer, &order_id).await["status"] == "complete"
    })
    .await;
    eventually("the ticket is sold", || async {
        app.ticket(&ticket_id).await["status"] == "sold"
    })
    .await;
    assert_eq!(app.get("/api/tickets").await.body, json!([]));

    // Cancel through the ingress too.
    let other = app.listed_ticket(&seller, "Opera", 30.0).await;
    let other_id = other["id"].as_str().expect("id").to_owned();
    let order = app.order(&buyer, &other_id).await.body;
    let cancelled = app
        .send(app.as_user(
            &buyer,
            Method::DELETE,
            &format!("/api/orders/{}", order["id"].as_str().expect("id")),
        ))
        .await;
    assert_eq!(cancelled.status, 204);
    eventually("the ticket is free again", || async {
        app.ticket(&other_id).await["status"] == "available"
    })
    .await;

    // The line, through the ingress: join, follow the live feed, get the turn, buy.
    let ballet = app.listed_ticket(&seller, "Ballet", 40.0).await;
    let ballet_id = ballet["id"].as_str().expect("id").to_owned();
    let holder = app.user().await;
    let held = app.order(&holder, &ballet_id).await;
    assert_eq!(held.status, 201, "{}", held.body);
    let waiting = app.user().await;
    assert_eq!(
        queue::join_held(&app, &waiting, &ballet_id).await["position"],
        1
    );
    let mut feed = crate::queue_feed::EventStream::open(&app, &waiting, &ballet_id).await;
    assert_eq!(feed.next().await.expect("first event").0, "queue-update");
    queue::cancel(&app, &holder, held.body["id"].as_str().expect("id")).await;
    let (name, data) = feed.next().await.expect("the turn");
    assert_eq!(
        (name.as_str(), data["ticketId"].as_str()),
        ("queue-turn", Some(ballet_id.as_str()))
    );
    let refused = app.order(&buyer, &ballet_id).await;
    assert_eq!(refused.error_messages(), [queue::NEXT_IN_LINE]);
    let bought = queue::order_on_turn(&app, &waiting, &ballet_id).await;
    assert_eq!(bought.status, 201, "{}", bought.body);

    // An event's waiting room, through the ingress: the queue's, not the catalogue's. The
    // admission the queue signs is one the orders service accepts (the same key reached
    // both processes).
    let organiser = app.user().await;
    let event = crate::rooms::event(&app, &organiser).await;
    let seat = crate::rooms::ticket(&app, &organiser, &event).await;
    let opens_at = time::OffsetDateTime::now_utc() + time::Duration::seconds(3);
    let body = json!({"opensAt": crate::rooms::rfc3339(opens_at)});
    let room = crate::rooms::set_up(&app, &organiser, &event, body).await;
    assert_eq!(room.status, 200, "{}", room.body);
    let fan = app.user().await;
    let path = format!("/api/events/{event}/room/join");
    let joined = crate::rooms::send(&app, &fan, Method::POST, &path, json!({})).await;
    assert_eq!(
        (joined.status, joined.body["state"].clone()),
        (202, json!("prequeue")),
        "{}",
        joined.body
    );
    crate::rooms::until_gated(&app, &fan, &seat).await;
    let admission = crate::helpers::eventually_some("the fan is let in", || async {
        let place = crate::rooms::me(&app, &fan, &event).await;
        place.body["admissionToken"].as_str().map(str::to_owned)
    })
    .await;
    let extra = json!({"admissionToken": admission});
    let admitted = crate::rooms::order(&app, &fan, &[&seat], extra).await;
    assert_eq!(admitted.status, 201, "{}", admitted.body);

    let unknown = app.get("/api/nothing").await;
    assert_eq!(
        (unknown.status, unknown.body),
        (404, json!({"errors": [{"message": "Not found"}]}))
    );

    // Every other path is the web UI (`serve web`), calling the API through the ingress.
    let page = reqwest::get(format!("{address}/signin"))
        .await
        .expect("page");
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .expect("html")
            .contains("<h1>Sign in</h1>")
    );
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let signed_up = browser
        .post(format!("{address}/signup"))
        .header("origin", &address)
        .form(&[("email", "web@example.com"), ("password", "correct horse")])
        .send()
        .await
        .expect("sign up");
    assert_eq!(
        signed_up.status(),
        303,
        "the page called the API through the ingress"
    );
    assert!(signed_up.headers().get("set-cookie").is_some());
    let missing = reqwest::get(format!("{address}/no/such/page"))
        .await
        .expect("page");
    assert_eq!(missing.status(), 404);
    assert!(missing.text().await.expect("html").contains("<main"));
}
