//! The server under test: a release `tenantry serve` child process on 127.0.0.1, its secrets and
//! settings, and what the benchmark reads about it from `/proc` (RSS, CPU time).

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use crate::procfs;

/// How long the server may take to answer `/readyz` after it is spawned.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Everything a `tenantry serve` of this run is configured with.
#[derive(Clone)]
pub struct ServerConfig {
    pub binary: PathBuf,
    pub mongodb_uri: String,
    pub catalog_db: String,
    pub jwt_secret: String,
    pub admin_key: String,
    /// Extra `TENANTRY_*` (or other) variables, applied last.
    pub extra_env: Vec<(String, String)>,
}

impl ServerConfig {
    /// A configuration with fresh secrets and a catalog database of its own.
    pub fn new(binary: PathBuf, mongodb_uri: String, run_id: &str) -> Result<ServerConfig> {
        Ok(ServerConfig {
            binary,
            mongodb_uri,
            catalog_db: format!("bench_catalog_{run_id}"),
            jwt_secret: random_hex(32)?,
            admin_key: random_hex(24)?,
            extra_env: Vec::new(),
        })
    }

    fn env(&self, listen: &str) -> Vec<(String, String)> {
        let digest = Sha256::digest(self.admin_key.as_bytes());
        let mut env: Vec<(String, String)> = [
            ("TENANTRY_LISTEN", listen.to_string()),
            ("TENANTRY_MONGODB_URI", self.mongodb_uri.clone()),
            ("TENANTRY_CATALOG_DB", self.catalog_db.clone()),
            ("TENANTRY_JWT_SECRET", self.jwt_secret.clone()),
            ("TENANTRY_ADMIN_KEY_SHA256", to_hex(&digest)),
            ("TENANTRY_LOG_FORMAT", "json".to_string()),
            // `POST /admin/migrations` over every tenant may take longer than the default 30 s.
            ("TENANTRY_REQUEST_TIMEOUT_SECS", "900".to_string()),
            // The load sends up to 32 concurrent requests to one tenant: give a tenant the whole
            // pool (64) and a long wait, so the benchmark measures throughput, not the per-tenant
            // budget's 503s (which the tests cover).
            ("TENANTRY_TENANT_BUDGET", "64".to_string()),
            ("TENANTRY_BUDGET_WAIT_MS", "10000".to_string()),
            ("RUST_LOG", "warn".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        for (k, v) in &self.extra_env {
            env.retain(|(name, _)| name != k);
            env.push((k.clone(), v.clone()));
        }
        env
    }
}

/// A running `tenantry serve`; killed on drop if not stopped.
pub struct Server {
    child: Child,
    pub base_url: String,
    pub pid: u32,
}

impl Server {
    /// Spawns the server on a free loopback port (its log goes to `log`) and waits until
    /// `/readyz` answers 200. Retries on another port if the chosen one was taken meanwhile.
    pub async fn start(config: &ServerConfig, log: &Path) -> Result<Server> {
        let mut last_error = None;
        for _ in 0..3 {
            match Server::try_start(config, log).await {
                Ok(server) => return Ok(server),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("the server did not start")))
    }

    async fn try_start(config: &ServerConfig, log: &Path) -> Result<Server> {
        let port = free_port()?;
        let listen = format!("127.0.0.1:{port}");
        let out = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone().context("duplicating the log handle")?;
        let mut command = Command::new(&config.binary);
        command
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        for (k, v) in config.env(&listen) {
            command.env(k, v);
        }
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", config.binary.display()))?;
        let mut server = Server {
            pid: child.id(),
            child,
            base_url: format!("http://{listen}"),
        };
        server.wait_ready(log).await?;
        Ok(server)
    }

    async fn wait_ready(&mut self, log: &Path) -> Result<()> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .context("building an HTTP client")?;
        let url = format!("{}/readyz", self.base_url);
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().context("polling the server")? {
                let tail = std::fs::read_to_string(log).unwrap_or_default();
                let tail: String = tail.lines().rev().take(5).collect::<Vec<_>>().join("\n");
                bail!("tenantry exited at start ({status}): {tail}");
            }
            if let Ok(response) = http.get(&url).send().await
                && response.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("tenantry was not ready within {READY_TIMEOUT:?}")
    }

    /// Resident set size of the server process, in KiB (`VmRSS`).
    pub fn rss_kib(&self) -> Result<u64> {
        procfs::rss_kib(&self.pid.to_string())
    }

    /// CPU time (user + system) the server has used, in clock ticks.
    pub fn cpu_ticks(&self) -> Result<u64> {
        procfs::cpu_ticks(&self.pid.to_string())
    }

    /// Waits until the server has been idle for `quiet_for` (at most one clock tick of CPU per
    /// 250 ms window, i.e. under ~4 % of a core), at most `max`; returns how long it took. Used
    /// before runs and memory readings, so background work (the projector catching up after
    /// writes, or sweeping every tenant at start) does not overlap a measurement.
    pub async fn wait_quiescent(&self, quiet_for: Duration, max: Duration) -> Result<Duration> {
        const WINDOW: Duration = Duration::from_millis(250);
        let needed = (quiet_for.as_millis() / WINDOW.as_millis()).max(1);
        let started = Instant::now();
        let (mut quiet, mut before) = (0, self.cpu_ticks()?);
        while started.elapsed() < max && quiet < needed {
            tokio::time::sleep(WINDOW).await;
            let now = self.cpu_ticks()?;
            quiet = if now.saturating_sub(before) <= 1 {
                quiet + 1
            } else {
                0
            };
            before = now;
        }
        Ok(started.elapsed())
    }

    /// SIGTERM (graceful drain), then SIGKILL after 15 s.
    pub async fn stop(mut self) -> Result<()> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if self
                .child
                .try_wait()
                .context("polling the server")?
                .is_some()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.child.kill().context("killing the server")?;
        let _ = self.child.wait();
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A port nobody listens on right now (the OS picks it; it is released before the server binds).
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr().context("reading the port")?.port())
}

/// `bytes` random bytes as hex, from the kernel's generator.
pub fn random_hex(bytes: usize) -> Result<String> {
    use std::io::Read;
    let mut buf = vec![0u8; bytes];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .context("reading /dev/urandom")?;
    Ok(to_hex(&buf))
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_env_overrides_defaults() {
        let mut config =
            ServerConfig::new("tenantry".into(), "mongodb://x".into(), "r1").expect("config");
        config
            .extra_env
            .push(("RUST_LOG".to_string(), "info".to_string()));
        let env = config.env("127.0.0.1:1");
        let log: Vec<_> = env.iter().filter(|(k, _)| k == "RUST_LOG").collect();
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].1, "info");
        assert!(config.jwt_secret.len() >= 32);
    }

    #[test]
    fn hex_is_lowercase_pairs() {
        assert_eq!(to_hex(&[0, 15, 255]), "000fff");
    }
}
