//! Real `tenantry serve` processes on one catalog, for what one process cannot prove: several
//! instances sharing work, `kill -9`, `SIGSTOP`, restarts, crash points, a file-descriptor limit
//! of its own, its logs and exit status. Each process logs to
//! `target/test-logs/<catalog>-<name>.log` (named in assertion messages).

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::contract::{ApiRequest, Contract};
use crate::support::{Call, send, sign_with, try_send};

/// Settings shared by every instance of one fleet (one catalog, one secret, one admin key).
pub struct Fleet {
    pub catalog_db: String,
    pub admin_key: String,
    pub jwt_secret: String,
    settings: Vec<(String, String)>,
}

/// One running `tenantry serve`.
pub struct Server {
    pub name: String,
    pub base: String,
    pub log: PathBuf,
    pub port: u16,
    child: Mutex<Option<Child>>,
    command: Vec<(String, String)>,
    /// A soft and hard `RLIMIT_NOFILE` of its own.
    nofile: Option<u32>,
    http: reqwest::Client,
    admin_key: String,
    /// The OpenAPI document it serves, once it answered (its requests are checked against it).
    contract: Mutex<Option<Arc<Contract>>>,
}

impl Fleet {
    /// A new catalog; `settings` (`TENANTRY_*`) apply to every instance.
    pub fn new(settings: &[(&str, &str)]) -> Fleet {
        Fleet {
            catalog_db: testkit::unique_name("cat").replace('-', "_"),
            admin_key: testkit::unique_name("admin-key"),
            jwt_secret: format!("{}-0123456789abcdef0123456789", testkit::unique_name("s")),
            settings: settings
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// Starts an instance (and waits until it answers `/healthz`).
    pub async fn start(&self, name: &str) -> Server {
        self.start_with(name, &[]).await
    }

    pub async fn start_with(&self, name: &str, extra: &[(&str, &str)]) -> Server {
        self.start_limited(name, extra, None).await
    }

    /// `start_with`, the process limited to `nofile` file descriptors (soft and hard).
    pub async fn start_limited(
        &self,
        name: &str,
        extra: &[(&str, &str)],
        nofile: Option<u32>,
    ) -> Server {
        let port = free_port();
        let mut env: Vec<(String, String)> = vec![
            ("TENANTRY_LISTEN".into(), format!("127.0.0.1:{port}")),
            ("TENANTRY_MONGODB_URI".into(), testkit::mongodb_uri()),
            ("TENANTRY_CATALOG_DB".into(), self.catalog_db.clone()),
            ("TENANTRY_JWT_SECRET".into(), self.jwt_secret.clone()),
            (
                "TENANTRY_ADMIN_KEY_SHA256".into(),
                tenantry_auth::AdminKey::digest_hex_of(&self.admin_key),
            ),
            ("TENANTRY_LOG_FORMAT".into(), "json".into()),
            ("RUST_LOG".into(), "info".into()),
        ];
        for (k, v) in self
            .settings
            .iter()
            .cloned()
            .chain(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        {
            env.retain(|(name, _)| *name != k);
            env.push((k, v));
        }
        let log = logs_dir().join(format!("{}-{name}.log", self.catalog_db));
        let mut server = Server {
            name: name.to_string(),
            base: format!("http://127.0.0.1:{port}"),
            log,
            port,
            child: Mutex::new(None),
            command: env,
            nofile,
            // Longer than the longest projection wait a test sets, so a lagging read is seen
            // as its 503, not as a client timeout.
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("http client"),
            admin_key: self.admin_key.clone(),
            contract: Mutex::new(None),
        };
        server.spawn().await;
        server
    }

    /// A token for `tenant` signed with the fleet's secret.
    pub fn token(&self, tenant: &str, roles: &[&str]) -> String {
        sign_with(&self.jwt_secret, json!({"tid": tenant, "roles": roles}))
    }
}

impl Server {
    async fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let binary = env!("CARGO_BIN_EXE_tenantry");
        let mut command = match self.nofile {
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
        };
        for (name, _) in std::env::vars_os() {
            let name_text = name.to_string_lossy();
            if name_text.starts_with("TENANTRY_") || name_text.starts_with("OTEL_") {
                command.env_remove(name);
            }
        }
        command
            .envs(self.command.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log);
        *self.child.lock().unwrap() = Some(command.spawn().expect("tenantry serve starts"));
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let up = self.http.get(self.url("/healthz")).send().await;
            if up.is_ok_and(|r| r.status().is_success()) {
                let contract = Contract::of(&self.http, &self.base).await;
                *self.contract.lock().unwrap() = Some(contract);
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{} did not start; see {}", self.name, self.log.display());
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The lines it has written so far (stdout and stderr).
    pub fn logs(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    /// SIGTERM (a graceful stop), then its exit status and every line it wrote.
    pub fn stop(&self) -> (Option<ExitStatus>, Vec<String>) {
        signal(self.pid(), "-TERM");
        let status = self
            .child
            .lock()
            .unwrap()
            .take()
            .and_then(|mut child| child.wait().ok());
        (status, self.logs())
    }

    /// Creates a product "S" with `stock` (201 asserted); its id.
    pub async fn product(&self, token: &str, stock: i64) -> String {
        let body = json!({"sku": "S", "name": "S", "price_cents": 1, "stock": stock});
        self.call(Method::POST, "/v1/products", token, Some(body), &[])
            .await
            .expect("an answer")
            .expect(reqwest::StatusCode::CREATED)["id"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// A new tenant, and a member token for it minted by the server.
    pub async fn tenant_and_token(&self) -> (String, String) {
        let id = testkit::unique_name("t");
        self.admin_json(
            Method::POST,
            "/admin/tenants",
            Some(json!({"id": id, "name": format!("Tenant {id}")})),
        )
        .await
        .expect(reqwest::StatusCode::CREATED);
        let minted = self
            .admin_json(
                Method::POST,
                &format!("/admin/tenants/{id}/tokens"),
                Some(json!({"sub": "u", "roles": ["member"]})),
            )
            .await
            .expect(reqwest::StatusCode::CREATED);
        let token = minted["token"].as_str().unwrap_or_default().to_string();
        (id, token)
    }

    pub fn pid(&self) -> u32 {
        self.child.lock().unwrap().as_ref().map_or(0, Child::id)
    }

    pub fn admin(&self, method: Method, path: &str) -> ApiRequest {
        self.request(method, path).bearer_auth(&self.admin_key)
    }

    fn request(&self, method: Method, path: &str) -> ApiRequest {
        let contract = self.contract.lock().unwrap().clone();
        ApiRequest::new(self.http.request(method, self.url(path)), contract)
    }

    /// A JSON call to a tenant route; `None` when the instance does not answer (it is down).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Option<Call> {
        try_send(self.request(method, path).bearer_auth(token), body, headers).await
    }

    /// An admin call, its JSON answer.
    pub async fn admin_json(&self, method: Method, path: &str, body: Option<Value>) -> Call {
        send(self.admin(method, path), body, &[]).await
    }

    /// `kill -9`: no clean-up, no lease hand-back, transactions left open.
    pub fn kill9(&self) {
        if let Some(mut child) = self.child.lock().unwrap().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits for the process to exit by itself (a crash point), up to `timeout`.
    pub fn wait_exit(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let mut child = self.child.lock().unwrap();
            match child.as_mut().map(Child::try_wait) {
                Some(Ok(Some(_))) | None => {
                    *child = None;
                    return true;
                }
                _ => {}
            }
            drop(child);
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Whether the process is stopped (SIGSTOP), from its state in `/proc`.
    pub fn is_stopped(&self) -> bool {
        std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))
            .ok()
            .and_then(|stat| {
                // `pid (name) state ...`: the state follows the last `)`.
                let (_, rest) = stat.rsplit_once(')')?;
                rest.split_whitespace().next().map(|state| state == "T")
            })
            .unwrap_or(false)
    }

    /// SIGSTOP (a long pause: GC, swap, a frozen VM) and SIGCONT.
    pub fn pause(&self) {
        signal(self.pid(), "-STOP");
    }

    pub fn resume(&self) {
        signal(self.pid(), "-CONT");
    }

    /// SIGTERM and wait: a graceful stop.
    pub fn terminate(&self) {
        signal(self.pid(), "-TERM");
        if let Some(mut child) = self.child.lock().unwrap().take() {
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        signal(self.pid(), "-CONT");
        self.kill9();
    }
}

fn signal(pid: u32, which: &str) {
    if pid != 0 {
        let _ = Command::new("kill")
            .arg(which)
            .arg(pid.to_string())
            .status();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn logs_dir() -> PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-logs");
    let _ = std::fs::create_dir_all(&dir);
    dir
}
