//! The real `tenantry serve` binary as a child process on a free loopback port, for tests that
//! need a process of its own: its logs, its exit status, its file-descriptor limit.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

/// A running `tenantry serve`; killed if dropped before `stop`.
pub struct ServerProcess {
    child: Child,
    pub port: u16,
    /// Its stdout and stderr lines, collected as they come (a full pipe would block it).
    logs: Arc<Mutex<Vec<String>>>,
    readers: Vec<JoinHandle<()>>,
}

fn collect(stream: impl Read + Send + 'static, logs: &Arc<Mutex<Vec<String>>>) -> JoinHandle<()> {
    let logs = Arc::clone(logs);
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            logs.lock().expect("log lines").push(line);
        }
    })
}

/// Starts the binary through `bash -c 'ulimit ...; exec "$0" serve'` when a descriptor limit
/// is given (soft and hard alike), directly otherwise.
fn command(nofile: Option<u32>) -> Command {
    let binary = env!("CARGO_BIN_EXE_tenantry");
    match nofile {
        Some(limit) => {
            let mut command = Command::new("bash");
            command
                .arg("-c")
                .arg(format!("ulimit -n {limit} && exec \"$0\" serve"))
                .arg(binary);
            command
        }
        None => {
            let mut command = Command::new(binary);
            command.arg("serve");
            command
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl ServerProcess {
    /// Starts the server with `env` (plus `TENANTRY_LISTEN`, JSON logs, the test database unless
    /// given) and waits until `/readyz` answers 200. Retries on another port if it cannot bind.
    pub async fn start(env: &[(&str, String)], nofile: Option<u32>) -> ServerProcess {
        for _ in 0..3 {
            let port = free_port();
            let mut command = command(nofile);
            for (name, _) in std::env::vars_os() {
                if name.to_string_lossy().starts_with("TENANTRY_") {
                    command.env_remove(name);
                }
            }
            command
                .env("TENANTRY_LISTEN", format!("127.0.0.1:{port}"))
                .env("TENANTRY_MONGODB_URI", testkit::mongodb_uri())
                .env("TENANTRY_LOG_FORMAT", "json")
                .envs(env.iter().map(|(k, v)| (k, v)))
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = command.spawn().expect("tenantry starts");
            let logs = Arc::new(Mutex::new(Vec::new()));
            let readers = vec![
                collect(child.stdout.take().expect("piped stdout"), &logs),
                collect(child.stderr.take().expect("piped stderr"), &logs),
            ];
            let mut server = ServerProcess {
                child,
                port,
                logs,
                readers,
            };
            if server.ready().await {
                return server;
            }
            // Exited (most likely the port was taken meanwhile): try another one.
            let (status, logs) = server.stop();
            eprintln!("tenantry did not start ({status:?}):\n{}", logs.join("\n"));
        }
        panic!("tenantry serve did not start");
    }

    async fn ready(&mut self) -> bool {
        let http = reqwest::Client::new();
        for _ in 0..150 {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return false;
            }
            let answer = http.get(self.url("/readyz")).send().await;
            if answer.is_ok_and(|r| r.status().is_success()) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// A new tenant and a member token for it, through the admin API (`admin_key`).
    pub async fn tenant_and_token(&self, admin_key: &str) -> (String, String) {
        let http = reqwest::Client::new();
        let id = testkit::unique_name("t");
        let created = http
            .post(self.url("/admin/tenants"))
            .bearer_auth(admin_key)
            .json(&json!({"id": id, "name": format!("Tenant {id}")}))
            .send()
            .await
            .expect("create tenant");
        assert_eq!(created.status(), StatusCode::CREATED);
        let minted: Value = http
            .post(self.url(&format!("/admin/tenants/{id}/tokens")))
            .bearer_auth(admin_key)
            .json(&json!({"sub": "u", "roles": ["member"]}))
            .send()
            .await
            .expect("mint token")
            .json()
            .await
            .expect("token JSON");
        let token = minted["token"].as_str().expect("token").to_string();
        (id, token)
    }

    /// The lines it has written so far (stdout and stderr).
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().expect("log lines").clone()
    }

    /// SIGTERM (a graceful stop), then its exit status and every line it wrote.
    pub fn stop(mut self) -> (ExitStatus, Vec<String>) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(self.child.id().to_string())
                .status();
        }
        let status = self.child.wait().expect("wait for tenantry");
        for reader in std::mem::take(&mut self.readers) {
            let _ = reader.join();
        }
        (status, self.logs())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
