//! `spawn_app()` and friends.

use std::time::Duration;

use boxoffice_app::application::Application;
use boxoffice_app::cli::{Service, Settings};
use boxoffice_platform::Secret;
use boxoffice_platform::testing::TestDatabase;
use reqwest::header::{HeaderMap, SET_COOKIE};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::oneshot;

/// The signing key tests use, so they can forge tokens (expired, tampered) on purpose.
pub const TEST_KEY: &str = "test-session-key-0123456789abcdef-0123456789";
/// The webhook secret tests use, so they can sign provider webhooks themselves.
pub const WEBHOOK_SECRET: &str = "whsec_test_0123456789abcdef";

/// Which store the application under test runs on.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    /// `boxoffice` (embedded mode) on SQLite files in a temporary directory.
    Sqlite,
    /// `boxoffice serve auth` on a fresh PostgreSQL database.
    Postgres,
}

/// A running application and an HTTP client for it. Stops the server when dropped.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    _data_dir: Option<TempDir>,
    _database: Option<TestDatabase>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.shutdown.take() {
            let _ = stop.send(());
        }
    }
}

/// Embedded mode on a fresh data directory.
pub async fn spawn_app() -> TestApp {
    spawn_app_on(Backend::Sqlite).await
}

pub async fn spawn_app_on(backend: Backend) -> TestApp {
    boxoffice_platform::telemetry::init_tracing(Default::default());
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let mut settings = Settings::for_data_dir(dir.path());
            settings.jwt_key = Some(Secret::new(TEST_KEY));
            let app = Application::embedded(&settings)
                .await
                .expect("embedded app starts");
            start(app, Some(dir), None)
        }
        Backend::Postgres => {
            let database = TestDatabase::create("boxoffice_auth")
                .await
                .expect("test database");
            let mut settings = Settings::for_data_dir("unused");
            settings.jwt_key = Some(Secret::new(TEST_KEY));
            settings.database_url = Some(Secret::new(database.url()));
            let app = Application::service(Service::Auth, &settings)
                .await
                .expect("auth service starts");
            start(app, None, Some(database))
        }
    }
}

/// Serves an already built application in the background.
pub fn start(
    app: Application,
    data_dir: Option<TempDir>,
    database: Option<TestDatabase>,
) -> TestApp {
    let address = format!("http://{}", app.address());
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    TestApp {
        address,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client"),
        _data_dir: data_dir,
        _database: database,
        shutdown: Some(stop),
        server: Some(server),
    }
}

/// Runs each named `async fn(TestApp)` once on SQLite and once on PostgreSQL.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {

            #[tokio::test]
            async fn sqlite() {
                super::$name(crate::helpers::spawn_app_on(crate::helpers::Backend::Sqlite).await).await;
            }

            #[tokio::test]
            async fn postgres() {
                super::$name(crate::helpers::spawn_app_on(crate::helpers::Backend::Postgres).await).await;
            }
        }
    )*};
}
pub(crate) use on_both_backends;

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    async fn read(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("body is not JSON: {text:?}"))
        };
        Self {
            status,
            headers,
            body,
        }
    }

    /// The `Set-Cookie` header for the session cookie.
    pub fn session_set_cookie(&self) -> Option<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("session="))
            .map(str::to_owned)
    }

    /// `session=<token>`, ready to send back in a `Cookie` header.
    pub fn cookie(&self) -> String {
        let set_cookie = self.session_set_cookie().expect("a session cookie was set");
        set_cookie
            .split(';')
            .next()
            .expect("cookie pair")
            .to_owned()
    }

    /// The session token inside the cookie.
    pub fn token(&self) -> String {
        self.cookie().trim_start_matches("session=").to_owned()
    }

    /// The messages of a contract error body, asserting its shape on the way.
    pub fn error_messages(&self) -> Vec<String> {
        let errors = self.body["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("not an error body: {}", self.body));
        errors
            .iter()
            .map(|e| {
                e["message"]
                    .as_str()
                    .expect("message is a string")
                    .to_owned()
            })
            .collect()
    }
}

impl TestApp {
    /// A client for a BoxOffice this test did not start (e.g. behind an ingress).
    pub fn at(address: &str) -> Self {
        Self {
            address: address.to_owned(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            _data_dir: None,
            _database: None,
            shutdown: None,
            server: None,
        }
    }

    /// Stops the server and its background work, and waits until it has stopped.
    pub async fn stop(mut self) {
        if let Some(stop) = self.shutdown.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("server task")
                .expect("server stopped cleanly");
        }
    }

    /// The embedded mode's data directory (SQLite files), for checks on the stores.
    pub fn data_dir(&self) -> &std::path::Path {
        self._data_dir.as_ref().expect("an embedded app").path()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        Reply::read(request.send().await.expect("request sent")).await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Reply {
        self.send(self.client.post(self.url(path)).json(body)).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.client.get(self.url(path))).await
    }

    pub async fn sign_up(&self, email: &str, password: &str) -> Reply {
        self.post_json(
            "/api/users/signup",
            &json!({ "email": email, "password": password }),
        )
        .await
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> Reply {
        self.post_json(
            "/api/users/signin",
            &json!({ "email": email, "password": password }),
        )
        .await
    }

    pub async fn current_user_with_cookie(&self, cookie: &str) -> Value {
        let reply = self
            .send(
                self.client
                    .get(self.url("/api/users/currentuser"))
                    .header("cookie", cookie),
            )
            .await;
        assert_eq!(reply.status, 200);
        reply.body["currentUser"].clone()
    }

    pub async fn current_user_with_bearer(&self, token: &str) -> Value {
        let reply = self
            .send(
                self.client
                    .get(self.url("/api/users/currentuser"))
                    .bearer_auth(token),
            )
            .await;
        assert_eq!(reply.status, 200);
        reply.body["currentUser"].clone()
    }
}

/// An email nobody has used in this process.
pub fn unique_email() -> String {
    format!("user-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// Embedded mode with adjusted settings (e.g. a short expiration window).
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    boxoffice_platform::telemetry::init_tracing(Default::default());
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings::for_data_dir(dir.path());
    settings.jwt_key = Some(Secret::new(TEST_KEY));
    settings.stripe_webhook_secret = Some(Secret::new(WEBHOOK_SECRET));
    adjust(&mut settings);
    let app = Application::embedded(&settings)
        .await
        .expect("embedded app starts");
    start(app, Some(dir), None)
}

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
    let deadline = tokio::time::Instant::now() + EVENTUALLY;
    loop {
        if check().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
