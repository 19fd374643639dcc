//! Users, tickets, orders and payments made over HTTP, as a client would.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Reply, TestApp, unique_email};

/// A signed-in user: their id and session cookie.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub cookie: String,
}

impl TestApp {
    /// Signs up a fresh user.
    pub async fn user(&self) -> User {
        let reply = self.sign_up(&unique_email(), "correct horse").await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        User {
            id: reply.body["id"].as_str().expect("id").to_owned(),
            cookie: reply.cookie(),
        }
    }

    /// A request carrying the user's session cookie.
    pub fn as_user(
        &self,
        user: &User,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header("cookie", &user.cookie)
    }

    /// Lists a ticket for `seller`; returns the ticket JSON.
    pub async fn listed_ticket(&self, seller: &User, title: &str, price: f64) -> Value {
        let reply = self
            .send(
                self.as_user(seller, reqwest::Method::POST, "/api/tickets")
                    .json(&json!({ "title": title, "price": price })),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        reply.body
    }

    /// Sends the request built by `request` again while it answers 404 — a service that has
    /// not yet heard of the ticket or order through its events — for at most [`EVENTUALLY`].
    pub async fn send_until_known(&self, request: impl Fn() -> reqwest::RequestBuilder) -> Reply {
        let deadline = tokio::time::Instant::now() + EVENTUALLY;
        loop {
            let reply = self.send(request()).await;
            if reply.status != 404 || tokio::time::Instant::now() >= deadline {
                return reply;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Orders a ticket as `buyer`, once the orders service knows it.
    pub async fn order(&self, buyer: &User, ticket_id: &str) -> Reply {
        self.send_until_known(|| {
            self.as_user(buyer, reqwest::Method::POST, "/api/orders")
                .json(&json!({ "ticketId": ticket_id }))
        })
        .await
    }

    /// Pays for an order as `buyer`, once the payments service knows it.
    pub async fn pay(&self, buyer: &User, order_id: &str, token: &str) -> Reply {
        self.send_until_known(|| {
            self.as_user(buyer, reqwest::Method::POST, "/api/payments")
                .json(&json!({ "orderId": order_id, "token": token }))
        })
        .await
    }

    pub async fn ticket(&self, id: &str) -> Value {
        let reply = self.get(&format!("/api/tickets/{id}")).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body
    }

    pub async fn order_of(&self, buyer: &User, id: &str) -> Value {
        let reply = self
            .send(self.as_user(buyer, reqwest::Method::GET, &format!("/api/orders/{id}")))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body
    }
}

/// The longest a test waits for the services to converge.
pub const EVENTUALLY: Duration = Duration::from_secs(15);

/// Polls `check` every 20 ms until it is true; fails the test after [`EVENTUALLY`].
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let became_true = || {
        let checked = check();
        async move { checked.await.then_some(()) }
    };
    eventually_some(what, became_true).await;
}

/// Polls `find` every 20 ms until it finds something, and returns that; fails the test
/// after [`EVENTUALLY`].
pub async fn eventually_some<T, F, Fut>(what: &str, mut find: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + EVENTUALLY;
    loop {
        if let Some(found) = find().await {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
