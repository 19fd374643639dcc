//! CONTRACT.md §12: an event's waiting room, over HTTP against the embedded mode — set-up
//! and its bad input, the prequeue, admission tied to stock, orders refused without an
//! admission (or with someone else's), the per-account limit, sold out told to everyone
//! waiting, and the exported log verified.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::helpers::{Reply, TestApp, User, spawn_app_with};
use crate::queue_feed::EventStream;

pub(crate) const ADMISSION_REQUIRED: &str = "Waiting room admission required";
const LIMIT_REACHED: &str = "Ticket limit for this event reached";

pub(crate) async fn send(
    app: &TestApp,
    user: &User,
    method: Method,
    path: &str,
    body: Value,
) -> Reply {
    app.send(app.as_user(user, method, path).json(&body)).await
}

pub(crate) fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).expect("format")
}

/// An event created by `creator`, starting in a year; its id.
pub(crate) async fn event(app: &TestApp, creator: &User) -> String {
    let starts = rfc3339(OffsetDateTime::now_utc() + time::Duration::days(365));
    let body = json!({"name": format!("Gig {}", crate::helpers::unique_email()), "venue": "Arena", "startsAt": starts});
    let reply = send(app, creator, Method::POST, "/api/events", body).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body["id"].as_str().expect("id").to_owned()
}

/// A ticket of `event` listed by `seller`; its id.
pub(crate) async fn ticket(app: &TestApp, seller: &User, event: &str) -> String {
    let body = json!({"title": "Seat", "price": 10, "eventId": event});
    let reply = send(app, seller, Method::POST, "/api/tickets", body).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body["id"].as_str().expect("id").to_owned()
}

/// Sets up the room (waiting until the queue service knows the event).
pub(crate) async fn set_up(app: &TestApp, creator: &User, event: &str, body: Value) -> Reply {
    let path = format!("/api/events/{event}/room");
    app.send_until_known(|| app.as_user(creator, Method::PUT, &path).json(&body))
        .await
}

/// Orders `tickets` as `buyer` with `extra` fields (an `admissionToken`).
pub(crate) async fn order(app: &TestApp, buyer: &User, tickets: &[&str], extra: Value) -> Reply {
    let mut body = json!({ "ticketIds": tickets });
    body.as_object_mut()
        .expect("object")
        .extend(extra.as_object().expect("object").clone());
    send(app, buyer, Method::POST, "/api/orders", body).await
}

pub(crate) fn message(reply: &Reply) -> String {
    assert_eq!(reply.status, 400, "{}", reply.body);
    reply.error_messages().join("; ")
}

/// Waits until the orders service enforces the room: an order without an admission is
/// refused. Until then such an order may go through — it is cancelled and tried again.
pub(crate) async fn until_gated(app: &TestApp, buyer: &User, ticket: &str) {
    let deadline = tokio::time::Instant::now() + crate::helpers::EVENTUALLY;
    loop {
        let reply = order(app, buyer, &[ticket], json!({})).await;
        if reply.status == 201 {
            let id = reply.body["id"].as_str().expect("id");
            let cancelled = app
                .send(app.as_user(buyer, Method::DELETE, &format!("/api/orders/{id}")))
                .await;
            assert_eq!(cancelled.status, 204, "{}", cancelled.body);
        } else if reply.status == 400 && reply.error_messages() == [ADMISSION_REQUIRED] {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the room never gated orders: {} {}",
            reply.status,
            reply.body
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub(crate) async fn me(app: &TestApp, user: &User, event: &str) -> Reply {
    app.send(app.as_user(user, Method::GET, &format!("/api/events/{event}/room/me")))
        .await
}

#[tokio::test]
async fn setting_up_a_room_is_the_creators_and_checks_its_input() {
    let app = spawn_app_with(|_| {}).await;
    let (creator, stranger) = (app.user().await, app.user().await);
    let event = event(&app, &creator).await;
    let soon = rfc3339(OffsetDateTime::now_utc() + time::Duration::minutes(5));

    let unknown = "01a200aa-1a4b-7137-8f08-2f256ac1c1b4";
    let path = format!("/api/events/{unknown}/room");
    let reply = send(&app, &creator, Method::PUT, &path, json!({"opensAt": soon})).await;
    assert_eq!(reply.status, 404, "an unknown event: {}", reply.body);

    let room = set_up(&app, &creator, &event, json!({"opensAt": soon})).await;
    assert_eq!(room.status, 200, "{}", room.body);
    assert_eq!(room.body["state"], "prequeue");
    assert_eq!(room.body["perAccountLimit"], 4, "the default limit");
    let commitment = room.body["commitment"].as_str().expect("commitment");
    assert_eq!(commitment.len(), 64);
    assert_eq!(
        room.body["logHead"]["seq"], 1,
        "the commitment is the first entry"
    );

    let theirs = set_up(&app, &stranger, &event, json!({"opensAt": soon})).await;
    assert_eq!(theirs.status, 401, "{}", theirs.body);

    let past = rfc3339(OffsetDateTime::now_utc() - time::Duration::minutes(5));
    let later = rfc3339(OffsetDateTime::now_utc() + time::Duration::minutes(9));
    let cases = [
        (json!({}), "opensAt", "OpensAt must be provided"),
        (
            json!({"opensAt": "tomorrow"}),
            "opensAt",
            "OpensAt must be a date and time (RFC 3339)",
        ),
        (
            json!({"opensAt": past}),
            "opensAt",
            "OpensAt must be in the future",
        ),
        (
            json!({"opensAt": later, "perAccountLimit": 0}),
            "perAccountLimit",
            "PerAccountLimit must be a whole number of at least 1",
        ),
        (
            json!({"opensAt": later, "perAccountLimit": "two"}),
            "perAccountLimit",
            "PerAccountLimit must be a whole number of at least 1",
        ),
    ];
    for (body, field, text) in cases {
        let reply = set_up(&app, &creator, &event, body.clone()).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        assert_eq!(
            reply.body["errors"],
            json!([{"field": field, "message": text}]),
            "{body}"
        );
    }

    // The opening may move while it lies ahead; the commitment stays.
    let moved = set_up(
        &app,
        &creator,
        &event,
        json!({"opensAt": later, "perAccountLimit": 2.0}),
    )
    .await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    assert_eq!(moved.body["commitment"], commitment);
    assert_eq!(moved.body["perAccountLimit"], 2);
    let shown = app.get(&format!("/api/events/{event}/room")).await;
    assert_eq!(shown.body["opensAt"], moved.body["opensAt"]);

    let not_joined = me(&app, &stranger, &event).await;
    assert_eq!(not_joined.status, 404, "{}", not_joined.body);
    app.assert_settled().await;
}

#[tokio::test]
async fn a_room_admits_as_stock_allows_and_orders_need_the_buyers_own_admission() {
    let app = spawn_app_with(|_| {}).await;
    let creator = app.user().await;
    let event = event(&app, &creator).await;
    let tickets = [
        ticket(&app, &creator, &event).await,
        ticket(&app, &creator, &event).await,
    ];
    let buyers = [app.user().await, app.user().await, app.user().await];

    let opens_at = OffsetDateTime::now_utc() + time::Duration::seconds(2);
    let body = json!({"opensAt": rfc3339(opens_at), "perAccountLimit": 1});
    let room = set_up(&app, &creator, &event, body).await;
    assert_eq!(room.status, 200, "{}", room.body);
    until_gated(&app, &buyers[0], &tickets[0]).await;

    // The prequeue: places without a rank yet, each buyer with a pseudonym of their own.
    let mut pids = Vec::new();
    for buyer in &buyers {
        let path = format!("/api/events/{event}/room/join");
        let joined = send(&app, buyer, Method::POST, &path, json!({})).await;
        assert_eq!(joined.status, 202, "{}", joined.body);
        assert_eq!(joined.body["state"], "prequeue");
        assert_eq!(
            joined.body["position"],
            Value::Null,
            "not ranked before the opening"
        );
        let again = send(&app, buyer, Method::POST, &path, json!({})).await;
        assert_eq!(
            again.body["pid"], joined.body["pid"],
            "joining again keeps the place"
        );
        pids.push(joined.body["pid"].as_str().expect("pid").to_owned());
    }
    pids.sort();
    pids.dedup();
    assert_eq!(pids.len(), 3);

    // At the opening, two free tickets admit two places; the third waits first in line.
    let deadline = tokio::time::Instant::now() + crate::helpers::EVENTUALLY;
    let places = loop {
        let mut places = Vec::new();
        for buyer in &buyers {
            places.push(me(&app, buyer, &event).await);
        }
        let count = |state: &str| places.iter().filter(|p| p.body["state"] == state).count();
        if count("admitted") == 2 && count("waiting") == 1 {
            break places;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never admitted two of three"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let admitted: Vec<usize> = (0..3)
        .filter(|&i| places[i].body["state"] == "admitted")
        .collect();
    let waiting = (0..3)
        .find(|&i| places[i].body["state"] == "waiting")
        .expect("one waits");
    assert_eq!(places[waiting].body["position"], 1);
    assert_eq!(places[waiting].body["ahead"], 0);
    assert!(places[waiting].body["estimatedWait"]["lowSeconds"].is_u64());
    let (first, second) = (admitted[0], admitted[1]);
    let token = |i: usize| {
        places[i].body["admissionToken"]
            .as_str()
            .expect("token")
            .to_owned()
    };
    let cookie = places[second]
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("admission-{event}=")))
        .expect("the admission is also a cookie")
        .to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");

    // Without an admission, or with somebody else's, there is no order.
    let refused = order(&app, &buyers[waiting], &[&tickets[0]], json!({})).await;
    assert_eq!(message(&refused), ADMISSION_REQUIRED);
    let borrowed = json!({"admissionToken": token(first)});
    let refused = order(&app, &buyers[waiting], &[&tickets[0]], borrowed).await;
    assert_eq!(
        message(&refused),
        ADMISSION_REQUIRED,
        "another buyer's admission"
    );
    let forged = json!({"admissionToken": "eyJhbGciOiJub25lIn0.e30."});
    let refused = order(&app, &buyers[waiting], &[&tickets[0]], forged).await;
    assert_eq!(message(&refused), ADMISSION_REQUIRED, "a forged admission");

    // A refusal for want of an admission is not the key's final answer: the same key
    // works once the buyer has one.
    let keyed = |body: Value| {
        app.as_user(&buyers[first], Method::POST, "/api/orders")
            .header("idempotency-key", format!("room-{event}"))
            .json(&body)
    };
    let refused = app.send(keyed(json!({"ticketId": tickets[0]}))).await;
    assert_eq!(message(&refused), ADMISSION_REQUIRED);

    // The admitted buyer orders one ticket; two at once, or a second, pass the limit.
    let own = json!({"admissionToken": token(first)});
    let both = order(
        &app,
        &buyers[first],
        &[&tickets[0], &tickets[1]],
        own.clone(),
    )
    .await;
    assert_eq!(message(&both), LIMIT_REACHED);
    let placed = app
        .send(keyed(
            json!({"ticketId": tickets[0], "admissionToken": token(first)}),
        ))
        .await;
    assert_eq!(
        placed.status, 201,
        "the same key, now admitted: {}",
        placed.body
    );
    let more = order(&app, &buyers[first], &[&tickets[1]], own).await;
    assert_eq!(message(&more), LIMIT_REACHED);

    // The other admitted buyer's browser sends the cookie.
    let pair = cookie.split(';').next().expect("pair");
    let with_cookie = app
        .send(
            app.client
                .post(app.url("/api/orders"))
                .header("cookie", format!("{}; {pair}", buyers[second].cookie))
                .json(&json!({"ticketId": tickets[1]})),
        )
        .await;
    assert_eq!(with_cookie.status, 201, "{}", with_cookie.body);

    // The waiting buyer follows the room live and hears the sale end.
    let feed_path = format!("/api/events/{event}/room/events");
    let mut feed = EventStream::open_at(&app, &buyers[waiting], &feed_path).await;
    for (buyer, reply) in [(first, &placed), (second, &with_cookie)] {
        let id = reply.body["id"].as_str().expect("order id");
        assert_eq!(app.pay(&buyers[buyer], id, "tok_visa").await.status, 201);
    }
    let mut sold_out = false;
    while let Some((name, data)) = feed.next().await {
        if name == "room-state" {
            assert!(data["logHead"]["hash"].is_string(), "{data}");
        }
        if name == "room-sold-out" {
            sold_out = true;
            break;
        }
    }
    assert!(sold_out, "the feed told the waiting buyer");
    let room = app.get(&format!("/api/events/{event}/room")).await;
    assert_eq!(room.body["state"], "sold_out");

    // The exported log holds: chain, revealed seed, shuffle, nobody passed over.
    let log = app
        .client
        .get(app.url(&format!("/api/events/{event}/room/log")))
        .send()
        .await
        .expect("log")
        .text()
        .await
        .expect("text");
    let verification = boxoffice_queue::room::verify_lines(&log);
    assert_eq!(verification.broken_at, None, "{log}");
    assert_eq!(verification.seed_matches_commitment, Some(true), "{log}");
    assert_eq!(verification.shuffle_matches, Some(true), "{log}");
    assert_eq!(verification.inversions, 0);
    assert!(log.contains(r#""kind":"order""#), "{log}");

    // The same promises, exported for monitoring.
    let metrics = app.metrics().await;
    let value = |series: &str| -> f64 {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{series} missing from /metrics"))
    };
    assert!(value("boxoffice_room_admissions_total") >= 2.0);
    assert_eq!(value("boxoffice_room_inversions"), 0.0);
    assert_eq!(value("boxoffice_room_log_faults_total"), 0.0);
    app.assert_settled().await;
}

#[tokio::test]
async fn ten_joins_at_once_of_one_account_take_one_place() {
    let app = spawn_app_with(|_| {}).await;
    let (creator, buyer) = (app.user().await, app.user().await);
    let event = event(&app, &creator).await;
    let soon = rfc3339(OffsetDateTime::now_utc() + time::Duration::minutes(5));
    let room = set_up(&app, &creator, &event, json!({"opensAt": soon})).await;
    assert_eq!(room.status, 200, "{}", room.body);

    let path = format!("/api/events/{event}/room/join");
    let joins = (0..10).map(|_| send(&app, &buyer, Method::POST, &path, json!({})));
    let replies = futures::future::join_all(joins).await;
    let pids: std::collections::HashSet<&str> = replies
        .iter()
        .map(|reply| {
            assert_eq!(reply.status, 202, "{}", reply.body);
            reply.body["pid"].as_str().expect("pid")
        })
        .collect();
    assert_eq!(pids.len(), 1, "one pseudonym");
    let log = app
        .client
        .get(app.url(&format!("/api/events/{event}/room/log")))
        .send()
        .await
        .expect("log")
        .text()
        .await
        .expect("text");
    assert_eq!(
        log.matches(r#""kind":"join""#).count(),
        1,
        "one place: {log}"
    );
    app.assert_settled().await;
}

#[tokio::test]
async fn a_room_and_its_places_survive_a_restart() {
    use boxoffice_app::application::Application;
    use boxoffice_app::cli::Settings;

    use crate::helpers::start;

    let dir = tempfile::tempdir().expect("temp dir");
    let settings = Settings::for_data_dir(dir.path());
    let first = start(
        Application::embedded(&settings).await.expect("start"),
        None,
        None,
    );
    let (creator, buyer, other) = (first.user().await, first.user().await, first.user().await);
    let event = event(&first, &creator).await;
    let soon = rfc3339(OffsetDateTime::now_utc() + time::Duration::minutes(5));
    let room = set_up(&first, &creator, &event, json!({"opensAt": soon})).await;
    assert_eq!(room.status, 200, "{}", room.body);
    let path = format!("/api/events/{event}/room/join");
    let mine = send(&first, &buyer, Method::POST, &path, json!({})).await;
    send(&first, &other, Method::POST, &path, json!({})).await;
    let head = first
        .get(&format!("/api/events/{event}/room/log/head"))
        .await;
    first.assert_settled().await;
    first.stop().await;

    let second = start(
        Application::embedded(&settings).await.expect("restart"),
        None,
        None,
    );
    let shown = second.get(&format!("/api/events/{event}/room")).await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert_eq!(shown.body["commitment"], room.body["commitment"]);
    assert_eq!(shown.body["logHead"], head.body, "the same log");
    let again = me(&second, &buyer, &event).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["pid"], mine.body["pid"]);
    assert_eq!(again.body["state"], "prequeue");
    second.assert_settled().await;
}

#[tokio::test]
async fn an_open_live_feed_keeps_a_place_alive_and_silence_parks_it() {
    let app = spawn_app_with(|settings| settings.room_lease_seconds = 2).await;
    let (creator, watching, silent) = (app.user().await, app.user().await, app.user().await);
    let event = event(&app, &creator).await;
    // Leases count once the room is open (at the opening, places silent for a lease are
    // parked at once); it opens in two seconds.
    let soon = rfc3339(OffsetDateTime::now_utc() + time::Duration::seconds(2));
    let room = set_up(&app, &creator, &event, json!({"opensAt": soon})).await;
    assert_eq!(room.status, 200, "{}", room.body);
    let path = format!("/api/events/{event}/room/join");
    let mut pids = Vec::new();
    for buyer in [&watching, &silent] {
        let joined = send(&app, buyer, Method::POST, &path, json!({})).await;
        pids.push(joined.body["pid"].as_str().expect("pid").to_owned());
    }
    let mut feed =
        EventStream::open_at(&app, &watching, &format!("/api/events/{event}/room/events")).await;
    let reader = tokio::spawn(async move { while feed.next().await.is_some() {} });

    // Three leases later: the silent place has lapsed, the watched one never did.
    let log_path = app.url(&format!("/api/events/{event}/room/log"));
    let lapses = |log: &str, pid: &str| {
        log.lines()
            .filter(|line| line.contains(r#""kind":"lapse""#) && line.contains(pid))
            .count()
    };
    let deadline = tokio::time::Instant::now() + crate::helpers::EVENTUALLY;
    let log = loop {
        let log = app
            .client
            .get(&log_path)
            .send()
            .await
            .expect("log")
            .text()
            .await
            .expect("text");
        if lapses(&log, &pids[1]) > 0 {
            break log;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "silence never parked: {log}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(Duration::from_secs(4)).await;
    let log = app
        .client
        .get(&log_path)
        .send()
        .await
        .expect("log")
        .text()
        .await
        .map(|later| if later.len() > log.len() { later } else { log })
        .expect("text");
    assert_eq!(
        lapses(&log, &pids[0]),
        0,
        "the open feed kept its place: {log}"
    );
    reader.abort();
    app.assert_settled().await;
}
