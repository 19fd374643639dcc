//! The distributed mode: every service its own `boxoffice serve <service>` on its own
//! PostgreSQL database (the queue on Redis, a key prefix per test), talking through NATS
//! JetStream (a nats-server per test), with two replicas each of orders, payments,
//! expiration and queue (whose waiting rooms share a PostgreSQL database). Requests go straight to the service
//! that owns the route, as the ingress would send them.

use boxoffice_app::application::Application;
use boxoffice_app::cli::{Service, Settings};
use boxoffice_platform::Secret;
use boxoffice_platform::fresh::FreshIds;
use boxoffice_platform::testing::{TestDatabase, TestNats, TestRedis};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{ADMISSION_KEY, TEST_KEY, TestApp, User, WEBHOOK_SECRET, eventually, start};

pub(crate) struct Cluster {
    pub(crate) auth: TestApp,
    pub(crate) tickets: TestApp,
    pub(crate) orders: [TestApp; 2],
    pub(crate) payments: [TestApp; 2],
    _expiration: [TestApp; 2],
    pub(crate) queue: [TestApp; 2],
    /// The fresh-id waiters of every orders, payments and queue replica.
    fresh: Vec<FreshIds>,
    _databases: Vec<TestDatabase>,
    _nats: TestNats,
    _redis: TestRedis,
}

async fn replicas(
    service: Service,
    nats: &TestNats,
    database: &TestDatabase,
    redis: &TestRedis,
    adjust: fn(&mut Settings),
    count: usize,
    fresh: &mut Vec<FreshIds>,
) -> Vec<TestApp> {
    let mut apps = Vec::new();
    for _ in 0..count {
        let mut settings = Settings::for_data_dir("unused");
        settings.jwt_key = Some(Secret::new(TEST_KEY));
        settings.room_admission_key = Some(Secret::new(ADMISSION_KEY));
        settings.database_url = Some(Secret::new(database.url()));
        settings.nats_url = Some(nats.url().to_owned());
        settings.redis_url = Some(Secret::new(redis.url()));
        settings.redis_prefix = redis.prefix().to_owned();
        settings.stripe_webhook_secret = Some(Secret::new(WEBHOOK_SECRET));
        adjust(&mut settings);
        let app = Application::service(service, &settings)
            .await
            .expect("service starts");
        fresh.extend(app.fresh_ids(service));
        apps.push(start(app, None, None));
    }
    apps
}

pub(crate) async fn cluster(adjust: fn(&mut Settings)) -> Cluster {
    boxoffice_platform::telemetry::init_tracing(Default::default());
    let nats = TestNats::start().await.expect("nats-server");
    let redis = TestRedis::new();
    let mut databases = Vec::new();
    for name in [
        "auth",
        "tickets",
        "orders",
        "payments",
        "expiration",
        "queue",
    ] {
        databases.push(
            TestDatabase::create(&format!("boxoffice_dist_{name}"))
                .await
                .expect("database"),
        );
    }
    let one = |apps: Vec<TestApp>| apps.into_iter().next().expect("one replica");
    let two = |apps: Vec<TestApp>| -> [TestApp; 2] {
        apps.try_into().unwrap_or_else(|_| panic!("two replicas"))
    };
    let mut fresh = Vec::new();
    let f = &mut fresh;
    Cluster {
        auth: one(replicas(Service::Auth, &nats, &databases[0], &redis, adjust, 1, f).await),
        tickets: one(replicas(Service::Tickets, &nats, &databases[1], &redis, adjust, 1, f).await),
        orders: two(replicas(Service::Orders, &nats, &databases[2], &redis, adjust, 2, f).await),
        payments: two(replicas(
            Service::Payments,
            &nats,
            &databases[3],
            &redis,
            adjust,
            2,
            f,
        )
        .await),
        _expiration: two(replicas(
            Service::Expiration,
            &nats,
            &databases[4],
            &redis,
            adjust,
            2,
            f,
        )
        .await),
        queue: two(replicas(Service::Queue, &nats, &databases[5], &redis, adjust, 2, f).await),
        fresh,
        _databases: databases,
        _nats: nats,
        _redis: redis,
    }
}

async fn order_field(app: &TestApp, buyer: &User, order_id: &str, field: &str) -> Value {
    app.order_of(buyer, order_id).await[field].clone()
}

#[tokio::test]
async fn the_buyer_journey_crosses_every_service() {
    let c = cluster(|_| {}).await;
    let seller = c.auth.user().await;
    let buyer = c.auth.user().await;

    // List → order (replica 0) → pay (replica 1) → complete, sold.
    let ticket = c.tickets.listed_ticket(&seller, "Concert", 20.5).await;
    let ticket_id = ticket["id"].as_str().expect("id").to_owned();
    let order = c.orders[0].order(&buyer, &ticket_id).await;
    assert_eq!(order.status, 201, "{}", order.body);
    let order_id = order.body["id"].as_str().expect("id").to_owned();
    let taken = c.orders[1].order(&c.auth.user().await, &ticket_id).await;
    assert_eq!(taken.status, 400, "one holder, whichever replica answers");
    eventually("the ticket is reserved", || async {
        c.tickets.ticket(&ticket_id).await["status"] == "reserved"
    })
    .await;

    let paid = c.payments[1].pay(&buyer, &order_id, "tok_visa").await;
    assert_eq!(paid.status, 201, "{}", paid.body);
    assert_eq!(paid.body["status"], "succeeded");
    let again = c.payments[0].pay(&buyer, &order_id, "tok_visa").await;
    assert_eq!(again.status, 400, "no second charge from the other replica");
    eventually("the order completes", || async {
        order_field(&c.orders[1], &buyer, &order_id, "status").await == "complete"
    })
    .await;
    eventually("the ticket is sold", || async {
        c.tickets.ticket(&ticket_id).await["status"] == "sold"
    })
    .await;
    // created 0 → (awaiting:payment) → complete: 2 when `payment:pending` arrived first,
    // 1 when a replica applied `payment:created` before the other saw `payment:pending`
    // (which then changes nothing). Never more: each event is applied once.
    let version = order_field(&c.orders[0], &buyer, &order_id, "version").await;
    assert!(version == 1 || version == 2, "version {version}");

    // Cancel: the ticket is free again.
    let other = c.tickets.listed_ticket(&seller, "Opera", 30.0).await;
    let other_id = other["id"].as_str().expect("id").to_owned();
    let order = c.orders[1].order(&buyer, &other_id).await.body;
    let cancel = c.orders[0]
        .send(c.orders[0].as_user(
            &buyer,
            Method::DELETE,
            &format!("/api/orders/{}", order["id"].as_str().expect("id")),
        ))
        .await;
    assert_eq!(cancel.status, 204);
    eventually("the cancelled ticket is free", || async {
        let t = c.tickets.ticket(&other_id).await;
        t["status"] == "available" && t["version"] == 2
    })
    .await;

    for app in [&c.orders[0], &c.payments[0], &c._expiration[0], &c.tickets] {
        let ready = app.get("/readyz").await;
        assert_eq!(
            (ready.status, ready.body["checks"]["nats"].clone()),
            (200, json!("ok")),
            "{}",
            ready.body
        );
    }
}

#[tokio::test]
async fn an_unpaid_order_expires_once_across_replicas() {
    let c = cluster(|settings| settings.expiration_window_seconds = 1).await;
    let seller = c.auth.user().await;
    let buyer = c.auth.user().await;
    let ticket = c.tickets.listed_ticket(&seller, "Concert", 20.0).await;
    let ticket_id = ticket["id"].as_str().expect("id").to_owned();
    let order = c.orders[0].order(&buyer, &ticket_id).await;
    assert_eq!(order.status, 201, "{}", order.body);
    let order_id = order.body["id"].as_str().expect("id").to_owned();

    eventually("the order expires", || async {
        order_field(&c.orders[1], &buyer, &order_id, "status").await == "cancelled"
    })
    .await;
    assert_eq!(
        order_field(&c.orders[0], &buyer, &order_id, "cancelReason").await,
        "expired"
    );
    eventually("the ticket is free again", || async {
        c.tickets.ticket(&ticket_id).await["status"] == "available"
    })
    .await;
    // Expired once: created 0 → cancelled 1, and the ticket reserved 1 → released 2.
    assert_eq!(
        order_field(&c.orders[1], &buyer, &order_id, "version").await,
        1
    );
    assert_eq!(c.tickets.ticket(&ticket_id).await["version"], 2);
    let next = c.auth.user().await;
    assert_eq!(c.orders[1].order(&next, &ticket_id).await.status, 201);
}

#[tokio::test]
async fn the_line_is_shared_by_queue_replicas_and_enforced_by_every_orders_replica() {
    use crate::queue::{NEXT_IN_LINE, has_turn, join_held, place};

    let c = cluster(|_| {}).await;
    let seller = c.auth.user().await;
    let holder = c.auth.user().await;
    let (first, second, outsider) = (
        c.auth.user().await,
        c.auth.user().await,
        c.auth.user().await,
    );
    let ticket = c.tickets.listed_ticket(&seller, "Derby", 55.0).await;
    let ticket_id = ticket["id"].as_str().expect("id").to_owned();
    let order = c.orders[0].order(&holder, &ticket_id).await;
    assert_eq!(order.status, 201, "{}", order.body);
    let order_id = order.body["id"].as_str().expect("id").to_owned();

    // Two replicas, one line in Redis: arrival order holds across them.
    assert_eq!(
        join_held(&c.queue[0], &first, &ticket_id).await["position"],
        1
    );
    let joined = join_held(&c.queue[1], &second, &ticket_id).await;
    assert_eq!(
        (joined["position"].clone(), joined["totalInQueue"].clone()),
        (2.into(), 2.into())
    );
    assert_eq!(
        place(&c.queue[0], &second, &ticket_id).await.body["position"],
        2
    );

    let cancelled = c.orders[1]
        .send(c.orders[1].as_user(&holder, Method::DELETE, &format!("/api/orders/{order_id}")))
        .await;
    assert_eq!(cancelled.status, 204);
    eventually("the first in line has the turn", || {
        has_turn(&c.queue[1], &first, &ticket_id)
    })
    .await;
    for orders in &c.orders {
        eventually("every orders replica enforces the turn", || async {
            let refused = orders.order(&outsider, &ticket_id).await;
            refused.status == 400 && refused.error_messages() == [NEXT_IN_LINE]
        })
        .await;
        let refused = orders.order(&second, &ticket_id).await;
        assert_eq!(refused.error_messages(), [NEXT_IN_LINE]);
    }
    let won = c.orders[1].order(&first, &ticket_id).await;
    assert_eq!(won.status, 201, "{}", won.body);
    eventually("the line moved up", || async {
        let looked = place(&c.queue[0], &second, &ticket_id).await;
        looked.body["position"] == 1 && place(&c.queue[1], &first, &ticket_id).await.status == 404
    })
    .await;
    for queue in &c.queue {
        let ready = queue.get("/readyz").await;
        assert_eq!(ready.status, 200, "{}", ready.body);
        assert_eq!(ready.body["checks"]["queue-store"], "ok", "{}", ready.body);
        assert_eq!(ready.body["checks"]["nats"], "ok", "{}", ready.body);
    }
}

#[tokio::test]
async fn the_classic_client_works_unchanged_behind_an_ingress() {
    use crate::classic_client::{Checkout, Site, journey};

    let c = cluster(|_| {}).await;
    // As the classic deployment's ingress routes them, taking the replicas in turn, so
    // reads often land on the replica that did not serve the write.
    let site = Site::ingress(
        "ticketing.dev",
        vec![
            ("/api/users/", vec![&c.auth]),
            ("/api/tickets", vec![&c.tickets]),
            ("/api/orders", c.orders.iter().collect()),
            ("/api/payments", c.payments.iter().collect()),
        ],
    );
    journey(&site, Checkout::Axios).await;
}

#[tokio::test]
async fn fresh_tickets_are_ordered_paid_and_queued_for_at_once_on_either_replica() {
    use crate::fresh_ids::{list_then_use_at_once, report};

    /// Tickets listed, ordered and paid at once, alternating replicas: the one answering
    /// is often not the one whose consumer applied the ticket, the order or the decision.
    /// Five hundred rounds (about 110 ms each on two cores, mostly the payment's two
    /// trips through NATS) stay well inside the suite's two-minute bound under a
    /// parallel run, and still catch a replica that answers before it has the id.
    const IN_A_ROW: usize = 500;

    let c = cluster(|_| {}).await;
    let (seller, buyer, other) = (
        c.auth.user().await,
        c.auth.user().await,
        c.auth.user().await,
    );
    let (mut took, mut paying) = (Vec::with_capacity(IN_A_ROW), Vec::with_capacity(IN_A_ROW));
    for i in 0..IN_A_ROW {
        let apps = (
            &c.tickets,
            &c.orders[i % 2],
            &c.payments[(i / 2) % 2],
            &c.queue[(i / 2) % 2],
        );
        let users = (&seller, &buyer, &other);
        let (order, pay) = list_then_use_at_once(apps, users, i % 2 == 0).await;
        took.push(order);
        paying.push(pay);
    }
    let of = |service: &'static str| {
        c.fresh
            .iter()
            .filter(move |fresh| fresh.service() == service)
            .map(FreshIds::stats)
            .fold(
                Default::default(),
                |all: boxoffice_platform::fresh::FreshStats, one| {
                    boxoffice_platform::fresh::FreshStats {
                        not_fresh: all.not_fresh + one.not_fresh,
                        waits: all.waits + one.waits,
                        found: all.found + one.found,
                        timed_out: all.timed_out + one.timed_out,
                        waited: all.waited + one.waited,
                    }
                },
            )
    };
    report("distributed orders", took, of("orders"));
    report(
        "distributed payments (order placed → succeeded)",
        paying,
        of("payments"),
    );
    for fresh in c.fresh.iter().filter(|fresh| fresh.service() == "queue") {
        println!("distributed queue joins: {:?}", fresh.stats());
    }
    for fresh in &c.fresh {
        assert_eq!(
            fresh.stats().timed_out,
            0,
            "{} waited to the bound",
            fresh.service()
        );
    }
}

/// Statuses of a bearer request with an empty body to every replica of every service
/// with protected routes: 400 when the token is accepted, 401 when it is not.
async fn statuses_everywhere(c: &Cluster, token: &str) -> Vec<(&'static str, u16)> {
    let mut statuses = Vec::new();
    let targets = [
        ("tickets", &c.tickets, "/api/tickets"),
        ("orders 0", &c.orders[0], "/api/orders"),
        ("orders 1", &c.orders[1], "/api/orders"),
        ("payments 0", &c.payments[0], "/api/payments"),
        ("payments 1", &c.payments[1], "/api/payments"),
    ];
    for (name, app, path) in targets {
        let reply = app
            .send(
                app.client
                    .post(app.url(path))
                    .bearer_auth(token)
                    .json(&json!({})),
            )
            .await;
        statuses.push((name, reply.status));
    }
    let me = c.auth.current_user_with_bearer(token).await;
    statuses.push(("auth", if me.is_null() { 401 } else { 400 }));
    statuses
}

#[tokio::test]
async fn a_signed_out_session_is_refused_by_every_replica_of_every_service() {
    let c = cluster(|_| {}).await;
    let email = crate::helpers::unique_email();
    let signed_out = c.auth.sign_up(&email, "correct horse").await.token();
    let everywhere = c
        .auth
        .sign_up(&crate::helpers::unique_email(), "correct horse")
        .await
        .token();
    let kept = c.auth.sign_in(&email, "correct horse").await.token();
    for token in [&signed_out, &everywhere, &kept] {
        let statuses = statuses_everywhere(&c, token).await;
        assert!(statuses.iter().all(|(_, s)| *s == 400), "{statuses:?}");
    }

    for (path, token) in [
        ("/api/users/signout", &signed_out),
        ("/api/users/signout?everywhere=true", &everywhere),
    ] {
        let reply = c
            .auth
            .send(c.auth.client.post(c.auth.url(path)).bearer_auth(token))
            .await;
        assert_eq!(reply.status, 200);
    }
    for token in [&signed_out, &everywhere] {
        eventually("every replica refuses the ended session", || async {
            statuses_everywhere(&c, token)
                .await
                .iter()
                .all(|(_, s)| *s == 401)
        })
        .await;
    }
    let statuses = statuses_everywhere(&c, &kept).await;
    assert!(
        statuses.iter().all(|(_, s)| *s == 400),
        "the user's other session goes on: {statuses:?}"
    );

    // A replica started later learns of the ended sessions before it serves.
    let mut settings = Settings::for_data_dir("unused");
    settings.jwt_key = Some(Secret::new(TEST_KEY));
    settings.room_admission_key = Some(Secret::new(ADMISSION_KEY));
    settings.database_url = Some(Secret::new(c._databases[1].url()));
    settings.nats_url = Some(c._nats.url().to_owned());
    let late = start(
        Application::service(Service::Tickets, &settings)
            .await
            .expect("tickets starts"),
        None,
        None,
    );
    for (token, expected) in [(&signed_out, 401), (&everywhere, 401), (&kept, 400)] {
        let reply = late
            .send(
                late.client
                    .post(late.url("/api/tickets"))
                    .bearer_auth(token)
                    .json(&json!({})),
            )
            .await;
        assert_eq!(reply.status, expected);
    }
}
