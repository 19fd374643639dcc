//! The waiting room in the distributed mode: two queue replicas share the rooms'
//! PostgreSQL database. The replica holding a room's lease runs it; the other passes the
//! room's requests — its live feed too — on to it; when the runner stops, the other takes
//! the room over from its log, with every place where it was.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::distributed::cluster;
use crate::helpers::{EVENTUALLY, Reply, TestApp, User};
use crate::queue_feed::EventStream;
use crate::rooms::{
    ADMISSION_REQUIRED, event, me, message, order, rfc3339, send, set_up, ticket, until_gated,
};

async fn join(queue: &TestApp, buyer: &User, event: &str) -> Reply {
    let path = format!("/api/events/{event}/room/join");
    send(queue, buyer, Method::POST, &path, json!({})).await
}

async fn log(queue: &TestApp, event: &str) -> String {
    let url = queue.url(&format!("/api/events/{event}/room/log"));
    let reply = queue.client.get(url).send().await.expect("log");
    assert_eq!(reply.status(), 200);
    reply.text().await.expect("text")
}

/// `buyer`'s place as `queue` tells it, once it answers (503 while the room changes
/// hands).
async fn place_through(queue: &TestApp, buyer: &User, event: &str) -> Value {
    let deadline = tokio::time::Instant::now() + EVENTUALLY;
    loop {
        let reply = me(queue, buyer, event).await;
        if reply.status == 200 {
            return reply.body;
        }
        assert_eq!(reply.status, 503, "{}", reply.body);
        assert_eq!(
            reply.headers.get("retry-after").map(|v| v.as_bytes()),
            Some(&b"1"[..]),
            "a room changing hands says when to ask again"
        );
        assert!(
            tokio::time::Instant::now() < deadline,
            "the room never came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_room_runs_on_one_replica_and_another_takes_it_over() {
    let c = cluster(|settings| settings.room_runner_lease_seconds = 2).await;
    let creator = c.auth.user().await;
    let event = event(&c.tickets, &creator).await;
    let tickets = [
        ticket(&c.tickets, &creator, &event).await,
        ticket(&c.tickets, &creator, &event).await,
    ];
    let buyers = [
        c.auth.user().await,
        c.auth.user().await,
        c.auth.user().await,
    ];
    let [runner, other] = &c.queue;

    // Set up through one replica, which runs the room from then on.
    let opens_at = OffsetDateTime::now_utc() + time::Duration::seconds(3);
    let body = json!({"opensAt": rfc3339(opens_at), "perAccountLimit": 1});
    let room = set_up(runner, &creator, &event, body).await;
    assert_eq!(room.status, 200, "{}", room.body);
    let through_other = other.get(&format!("/api/events/{event}/room")).await;
    assert_eq!(through_other.status, 200, "{}", through_other.body);
    assert_eq!(through_other.body["commitment"], room.body["commitment"]);
    until_gated(&c.orders[0], &buyers[0], &tickets[0]).await;

    // Joins through either replica land in the one room: each buyer has one place,
    // the same through both.
    for (i, buyer) in buyers.iter().enumerate() {
        let joined = join(&c.queue[i % 2], buyer, &event).await;
        assert_eq!(joined.status, 202, "{}", joined.body);
        assert_eq!(joined.body["state"], "prequeue");
        let again = join(&c.queue[(i + 1) % 2], buyer, &event).await;
        assert_eq!(again.body["pid"], joined.body["pid"], "one place per buyer");
    }

    // A live feed through the replica that does not run the room streams the runner's.
    let feed_path = format!("/api/events/{event}/room/events");
    let mut feed = EventStream::open_at(other, &buyers[0], &feed_path).await;
    let (name, first) = feed.next().await.expect("a first event");
    assert_eq!(name, "room-state", "{first}");
    drop(feed);

    // At the opening two are admitted (two tickets), whichever replica is asked.
    let deadline = tokio::time::Instant::now() + EVENTUALLY;
    let places = loop {
        let mut places = Vec::new();
        for (i, buyer) in buyers.iter().enumerate() {
            places.push(me(&c.queue[i % 2], buyer, &event).await.body);
        }
        let count = |state: &str| places.iter().filter(|p| p["state"] == state).count();
        if count("admitted") == 2 && count("waiting") == 1 {
            break places;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never admitted two: {places:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let admitted = (0..3)
        .find(|&i| places[i]["state"] == "admitted")
        .expect("one");
    let waiting = (0..3)
        .find(|&i| places[i]["state"] == "waiting")
        .expect("one");
    let token = places[admitted]["admissionToken"].as_str().expect("token");
    let refused = order(&c.orders[1], &buyers[waiting], &[&tickets[0]], json!({})).await;
    assert_eq!(message(&refused), ADMISSION_REQUIRED);
    let placed = order(
        &c.orders[1],
        &buyers[admitted],
        &[&tickets[0]],
        json!({"admissionToken": token}),
    )
    .await;
    assert_eq!(placed.status, 201, "{}", placed.body);

    // The runner learns the admission was used, whichever replica consumed the order.
    let deadline = tokio::time::Instant::now() + EVENTUALLY;
    while place_through(other, &buyers[admitted], &event).await["state"] != "ordered" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the order never reached the room"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before = log(other, &event).await;

    // The runner stops; the other replica takes the room over from its log.
    let [runner, other] = c.queue;
    runner.stop().await;
    for (i, buyer) in buyers.iter().enumerate() {
        let place = place_through(&other, buyer, &event).await;
        assert_eq!(
            place["pid"], places[i]["pid"],
            "the same place after the move"
        );
        if i == waiting {
            assert_eq!(place["state"], "waiting");
            assert_eq!(place["position"], 1);
        }
    }
    // A join after the move is decided by the new runner, appended to the same chain.
    let late = c.auth.user().await;
    let joined = join(&other, &late, &event).await;
    assert_eq!(joined.status, 202, "{}", joined.body);
    let after = log(&other, &event).await;
    assert!(
        after.starts_with(&before),
        "the new runner continues the log it found"
    );
    assert!(after.len() > before.len());
    let verification = boxoffice_queue::room::verify_lines(&after);
    assert_eq!(verification.broken_at, None, "{after}");
    assert_eq!(verification.inversions, 0, "{after}");
}
