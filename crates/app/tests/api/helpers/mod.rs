//! `spawn_app()` and friends.
//!
//! * this file — starting the application under test, [`TestApp`], and the check every
//!   test ends with: each outbox drained, nothing dead-lettered ([`TestApp::assert_settled`]).
//! * [`reply`] — a response read whole, and the contract's error body.
//! * [`journeys`] — users, tickets, orders and payments made over HTTP, and [`eventually`].

mod journeys;
mod reply;

use std::sync::Arc;
use std::time::Duration;

use boxoffice_app::application::Application;
use boxoffice_app::cli::{Service, Settings};
use boxoffice_platform::Secret;
use boxoffice_platform::runtime::{LaunchedStore, Supervisor};
use boxoffice_platform::testing::{TestDatabase, TestNats};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::oneshot;

pub use journeys::{EVENTUALLY, User, eventually, eventually_some};
pub use reply::Reply;

/// The signing key tests use, so they can forge tokens (expired, tampered) on purpose.
pub const TEST_KEY: &str = "test-session-key-0123456789abcdef-0123456789";
/// The waiting-room admission key of tests that run services apart (never the session key).
pub const ADMISSION_KEY: &str = "test-admission-key-0123456789abcdef-01234567";
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
    data_dir: Option<std::path::PathBuf>,
    shutdown: Arc<StopOnDrop>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    /// The services' outboxes and dead letters, for [`TestApp::assert_settled`].
    stores: Vec<LaunchedStore>,
    /// The app's background work, for tests of its supervision.
    pub supervisor: Option<Supervisor>,
}

/// Stops the server when the last holder — the [`TestApp`] or a [`SettledCheck`] still
/// waiting for the outboxes — lets go of it; the app's data directory and database go
/// with it, not while it still runs.
#[derive(Debug, Default)]
struct StopOnDrop {
    stop: std::sync::Mutex<Option<oneshot::Sender<()>>>,
    _data_dir: Option<TempDir>,
    _database: Option<TestDatabase>,
    _nats: Option<TestNats>,
}

impl StopOnDrop {
    fn stop(&self) {
        let sender = self
            .stop
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(stop) = sender {
            let _ = stop.send(());
        }
    }
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.stop();
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
            let nats = TestNats::start().await.expect("nats-server");
            let mut settings = Settings::for_data_dir("unused");
            settings.jwt_key = Some(Secret::new(TEST_KEY));
            settings.database_url = Some(Secret::new(database.url()));
            settings.nats_url = Some(nats.url().to_owned());
            let app = Application::service(Service::Auth, &settings)
                .await
                .expect("auth service starts");
            let mut app = start(app, None, Some(database));
            app.keep(nats);
            app
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
    let stores = app.stores().to_vec();
    let supervisor = app.supervisor().clone();
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
        data_dir: data_dir.as_ref().map(|dir| dir.path().to_owned()),
        shutdown: Arc::new(StopOnDrop {
            stop: std::sync::Mutex::new(Some(stop)),
            _data_dir: data_dir,
            _database: database,
            _nats: None,
        }),
        server: Some(server),
        stores,
        supervisor: Some(supervisor),
    }
}

/// Runs each named `async fn(TestApp)` once on SQLite and once on PostgreSQL.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {

            #[tokio::test]
            async fn sqlite() {
                let app = crate::helpers::spawn_app_on(crate::helpers::Backend::Sqlite).await;
                let settled = app.settled_check();
                super::$name(app).await;
                settled.assert().await;
            }

            #[tokio::test]
            async fn postgres() {
                let app = crate::helpers::spawn_app_on(crate::helpers::Backend::Postgres).await;
                let settled = app.settled_check();
                super::$name(app).await;
                settled.assert().await;
            }
        }
    )*};
}
pub(crate) use on_both_backends;

impl TestApp {
    /// A client for a BoxOffice this test did not start (e.g. behind an ingress).
    pub fn at(address: &str) -> Self {
        Self {
            address: address.to_owned(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            data_dir: None,
            shutdown: Arc::default(),
            server: None,
            stores: Vec::new(),
            supervisor: None,
        }
    }

    /// Keeps `nats` running for as long as the server does (it stops after the server).
    pub fn keep(&mut self, nats: TestNats) {
        if let Some(stop) = Arc::get_mut(&mut self.shutdown) {
            stop._nats = Some(nats);
        }
    }

    /// Stops the server and its background work, and waits until it has stopped.
    pub async fn stop(mut self) {
        self.shutdown.stop();
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("server task")
                .expect("server stopped cleanly");
        }
    }

    /// The embedded mode's data directory (SQLite files), for checks on the stores.
    pub fn data_dir(&self) -> &std::path::Path {
        self.data_dir.as_deref().expect("an embedded app")
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

    /// The text of `/metrics`.
    pub async fn metrics(&self) -> String {
        self.client
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text")
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

impl TestApp {
    /// Waits (bounded) until every service's outbox has been published, then asserts that
    /// no consumer parked an event as a dead letter: a test whose events did not all flow
    /// fails even when its own assertions passed. Tests end with it.
    pub async fn assert_settled(&self) {
        self.settled_check().assert().await;
    }

    /// The same check, kept apart from the app so it can run after a test took the app.
    pub fn settled_check(&self) -> SettledCheck {
        SettledCheck {
            stores: self.stores.clone(),
            _running: Arc::clone(&self.shutdown),
        }
    }
}

/// See [`TestApp::assert_settled`]. It keeps the server running after the test dropped
/// its app, so the relays can still publish what the test's last requests wrote.
#[derive(Debug)]
pub struct SettledCheck {
    stores: Vec<LaunchedStore>,
    _running: Arc<StopOnDrop>,
}

impl SettledCheck {
    pub async fn assert(&self) {
        eventually("every outbox is published", || async {
            for store in &self.stores {
                let unsent = store
                    .plumbing
                    .outbox()
                    .unsent_after(0, 1)
                    .await
                    .expect("read the outbox");
                if !unsent.is_empty() {
                    return false;
                }
            }
            true
        })
        .await;
        for store in &self.stores {
            for consumer in &store.consumers {
                let parked = store
                    .plumbing
                    .dead_letters(consumer)
                    .await
                    .expect("read the dead letters");
                assert!(
                    parked.is_empty(),
                    "{} parked events as dead letters: {:?}",
                    consumer,
                    parked
                        .iter()
                        .map(|(event, reason)| format!("{} {}: {reason}", event.kind, event.id))
                        .collect::<Vec<_>>()
                );
            }
        }
    }
}
