//! The standard stack and the session extractors, seen from a client.
//!
//! A tiny router stands in for a service: one protected route that reads a JSON body and
//! one handler that panics.

use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use boxoffice_platform::Secret;
use boxoffice_platform::http::{ApiJson, AuthUser, SessionKeys, serve, stack};
use serde::Deserialize;
use serde_json::{Value, json};

const KEY: &str = "platform-test-key-0123456789abcdef0123456789";

#[derive(Deserialize)]
struct Note {
    text: String,
}

async fn protected(AuthUser(user): AuthUser, ApiJson(note): ApiJson<Note>) -> axum::Json<Value> {
    axum::Json(json!({ "user": user.id, "text": note.text }))
}

async fn explode() -> &'static str {
    panic!("secret detail that must not reach the client")
}

struct Server {
    base: String,
    keys: SessionKeys,
    client: reqwest::Client,
}

async fn spawn() -> Server {
    let keys = SessionKeys::new(&Secret::new(KEY), Duration::from_secs(60), false);
    let router = Router::new()
        .route("/notes", post(protected))
        .route("/explode", get(explode));
    let app = stack::apply(router, keys.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(serve::serve(listener, app, std::future::pending()));
    Server {
        base,
        keys,
        client: reqwest::Client::new(),
    }
}

async fn read(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = response.json().await.expect("JSON body");
    (status, body)
}

fn not_authorized() -> Value {
    json!({"errors": [{"message": "Not authorized"}]})
}

#[tokio::test]
async fn a_valid_session_reaches_the_handler() {
    let server = spawn().await;
    let user = boxoffice_common::new_id();
    let (token, _) = server
        .keys
        .issue(user, "a@b.co", time::OffsetDateTime::now_utc())
        .expect("token");
    let reply = server
        .client
        .post(format!("{}/notes", server.base))
        .bearer_auth(&token)
        .json(&json!({"text": "hi"}))
        .send()
        .await
        .expect("send");
    assert_eq!(
        read(reply).await,
        (200, json!({"user": user.to_string(), "text": "hi"}))
    );
}

#[tokio::test]
async fn authentication_is_checked_before_the_body() {
    let server = spawn().await;
    let reply = server
        .client
        .post(format!("{}/notes", server.base))
        .header("content-type", "application/json")
        .body("{ not json")
        .send()
        .await
        .expect("send");
    assert_eq!(read(reply).await, (401, not_authorized()));
}

#[tokio::test]
async fn expired_tampered_and_unsigned_tokens_are_401() {
    let server = spawn().await;
    let long_ago = time::OffsetDateTime::now_utc() - time::Duration::hours(2);
    let (expired, _) = server
        .keys
        .issue(boxoffice_common::new_id(), "a@b.co", long_ago)
        .expect("token");
    let (good, _) = server
        .keys
        .issue(
            boxoffice_common::new_id(),
            "a@b.co",
            time::OffsetDateTime::now_utc(),
        )
        .expect("token");
    let mut tampered = good.clone();
    tampered.pop();
    tampered.push(if good.ends_with('A') { 'B' } else { 'A' });
    let unsigned = {
        let mut parts = good.split('.');
        let _header = parts.next();
        // {"alg":"none","typ":"JWT"}
        format!(
            "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.",
            parts.next().expect("payload")
        )
    };

    for token in [expired, tampered, unsigned] {
        for as_cookie in [false, true] {
            let request = server.client.post(format!("{}/notes", server.base));
            let request = if as_cookie {
                request.header("cookie", format!("session={token}"))
            } else {
                request.bearer_auth(&token)
            };
            let reply = request
                .json(&json!({"text": "hi"}))
                .send()
                .await
                .expect("send");
            assert_eq!(
                read(reply).await,
                (401, not_authorized()),
                "{token} cookie={as_cookie}"
            );
        }
    }
}

#[tokio::test]
async fn a_panic_is_a_bare_500() {
    let server = spawn().await;
    let reply = server
        .client
        .get(format!("{}/explode", server.base))
        .send()
        .await
        .expect("send");
    let (status, body) = read(reply).await;
    assert_eq!(status, 500);
    assert_eq!(
        body,
        json!({"errors": [{"message": "Something went wrong"}]})
    );
}
