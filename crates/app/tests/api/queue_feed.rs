//! CONTRACT.md §8, live: the line's Server-Sent Events feed.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{EVENTUALLY, TestApp, User, spawn_app};
use crate::queue::{cancel, held_ticket, join_held, leave};

/// Reads Server-Sent Events from a streaming response.
pub(crate) struct EventStream {
    response: reqwest::Response,
    buffer: String,
}

impl EventStream {
    pub(crate) async fn open(app: &TestApp, user: &User, ticket_id: &str) -> Self {
        Self::open_at(app, user, &format!("/api/queue/{ticket_id}/events")).await
    }

    /// The live feed at `path` (a room's, say).
    pub(crate) async fn open_at(app: &TestApp, user: &User, path: &str) -> Self {
        let response = app
            .as_user(user, Method::GET, path)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"].to_str().expect("type"),
            "text/event-stream"
        );
        assert_eq!(
            response.headers()["x-accel-buffering"],
            "no",
            "proxies must not buffer the live feed"
        );
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next event's name and data; `None` when the stream ended.
    pub(crate) async fn next(&mut self) -> Option<(String, Value)> {
        tokio::time::timeout(EVENTUALLY, async {
            loop {
                if let Some(end) = self.buffer.find("\n\n") {
                    let block: String = self.buffer.drain(..end + 2).collect();
                    let mut name = None;
                    let mut data = String::new();
                    for line in block.lines() {
                        if let Some(value) = line.strip_prefix("event:") {
                            name = Some(value.trim().to_owned());
                        } else if let Some(value) = line.strip_prefix("data:") {
                            data.push_str(value.trim());
                        }
                    }
                    if let Some(name) = name {
                        return Some((name, serde_json::from_str(&data).expect("json data")));
                    }
                    continue; // a keep-alive comment
                }
                match self.response.chunk().await.expect("stream") {
                    Some(bytes) => self
                        .buffer
                        .push_str(std::str::from_utf8(&bytes).expect("utf-8")),
                    None => return None,
                }
            }
        })
        .await
        .expect("an event in time")
    }
}

#[tokio::test]
async fn the_live_feed_tells_a_buyer_their_place_their_turn_and_a_sale() {
    let app = spawn_app().await;
    let (_, holder, ticket_id, order_id) = held_ticket(&app).await;
    let (first, second) = (app.user().await, app.user().await);
    join_held(&app, &first, &ticket_id).await;
    join_held(&app, &second, &ticket_id).await;

    let not_in_line = app
        .send(app.as_user(
            &holder,
            Method::GET,
            &format!("/api/queue/{ticket_id}/events"),
        ))
        .await;
    assert_eq!(not_in_line.status, 404);

    let mut feed = EventStream::open(&app, &second, &ticket_id).await;
    let (name, data) = feed.next().await.expect("first event");
    assert_eq!(name, "queue-update");
    assert_eq!(
        (data["position"].clone(), data["totalInQueue"].clone()),
        (2.into(), 2.into())
    );

    assert_eq!(leave(&app, &first, &ticket_id).await.status, 204);
    let (name, data) = feed.next().await.expect("moved up");
    assert_eq!(name, "queue-update");
    assert_eq!(
        (data["position"].clone(), data["totalInQueue"].clone()),
        (1.into(), 1.into())
    );

    cancel(&app, &holder, &order_id).await;
    let (name, data) = feed.next().await.expect("turn");
    assert_eq!(name, "queue-turn");
    assert_eq!(data["ticketId"], ticket_id.as_str());
    assert!(data["turnExpiresAt"].is_string(), "{data}");

    // Someone else's sale ends the line for everyone in it.
    let (_, holder, other_id, other_order) = held_ticket(&app).await;
    let waiting = app.user().await;
    join_held(&app, &waiting, &other_id).await;
    let mut other_feed = EventStream::open(&app, &waiting, &other_id).await;
    assert_eq!(other_feed.next().await.expect("first").0, "queue-update");
    let paid = app.pay(&holder, &other_order, "tok_visa").await;
    assert_eq!(paid.status, 201, "{}", paid.body);
    let (name, data) = other_feed.next().await.expect("sold");
    assert_eq!(name, "ticket-unavailable");
    assert_eq!(data["ticketId"], other_id.as_str());
    assert_eq!(other_feed.next().await, None, "the feed ends");
    app.assert_settled().await;
}
