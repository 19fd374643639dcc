//! Servers under test, started as child processes so their memory and CPU can be read
//! from `/proc` on their own.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use tempfile::TempDir;

/// Clock ticks per second for `/proc/<pid>/stat` CPU times (`sysconf(_SC_CLK_TCK)`, 100 on
/// every Linux this runs on).
const CLOCK_TICKS: f64 = 100.0;

/// A running server process; killed when dropped.
#[derive(Debug)]
pub struct Spawned {
    child: Child,
    pub base: String,
    /// The embedded mode's data directory (for `boxoffice`).
    pub data_dir: Option<TempDir>,
    /// The session key the server signs with (for `boxoffice`).
    pub jwt_key: String,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The `boxoffice` binary next to this one (both are built into the same target dir).
pub fn sibling_binary(name: &str) -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe()?;
    let path = me.parent().context("binary directory")?.join(name);
    anyhow::ensure!(
        path.exists(),
        "{} not found: build it first (cargo build --release)",
        path.display()
    );
    Ok(path)
}

async fn wait_until_up(base: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("{base} did not come up within 10 s")
}

impl Spawned {
    /// Starts `boxoffice` in the embedded mode on a free port and a fresh data directory.
    pub async fn boxoffice(binary: &Path) -> anyhow::Result<Self> {
        let port = free_port()?;
        let data_dir = tempfile::tempdir()?;
        let mut key = [0_u8; 32];
        getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("{e}"))?;
        let jwt_key = hex::encode(key);
        let child = Command::new(binary)
            .env("PORT", port.to_string())
            .env("HOST", "127.0.0.1")
            .env("DATA_DIR", data_dir.path())
            .env("JWT_KEY", &jwt_key)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let spawned = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            data_dir: Some(data_dir),
            jwt_key,
        };
        wait_until_up(&spawned.base).await?;
        Ok(spawned)
    }

    /// Starts the hello-world server (this binary's `hello` command) on a free port.
    pub async fn hello() -> anyhow::Result<Self> {
        let port = free_port()?;
        let child = Command::new(std::env::current_exe()?)
            .args(["hello", "--port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?;
        let spawned = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            data_dir: None,
            jwt_key: String::new(),
        };
        wait_until_up(&spawned.base).await?;
        Ok(spawned)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// Resident memory of a process, in bytes.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// CPU time (user + system) a process has used, in seconds.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces; fields are counted after its closing paren.
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some((user + system) / CLOCK_TICKS)
}

/// Samples a process's RSS every 50 ms and keeps the peak, until dropped.
#[derive(Debug)]
pub struct PeakRss {
    peak: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl PeakRss {
    pub fn watch(pid: u32) -> Self {
        let peak = Arc::new(AtomicU64::new(rss_bytes(pid).unwrap_or_default()));
        let shared = Arc::clone(&peak);
        let task = tokio::spawn(async move {
            loop {
                if let Some(rss) = rss_bytes(pid) {
                    shared.fetch_max(rss, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        Self { peak, task }
    }

    pub fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }
}

impl Drop for PeakRss {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_memory_and_cpu_time() {
        let me = std::process::id();
        assert!(rss_bytes(me).is_some_and(|rss| rss > 0));
        assert!(cpu_seconds(me).is_some());
    }
}
