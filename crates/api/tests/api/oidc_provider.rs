//! A real OpenID Connect provider for the identity tests: `tests/oidc-provider/provider.mjs`
//! (the certified `oidc-provider` package from npm, installed by `npm ci` in that folder, which
//! scripts/test.sh does), run as a child process on 127.0.0.1. Tokens come from its token
//! endpoint (client credentials, JWT access tokens); its keys are fixture PEM files, so a test
//! can also sign tokens the provider never issued (expired, other audience, unknown `kid`).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// The audience (resource indicator) of the provider's access tokens.
pub const AUDIENCE: &str = "urn:tenantry:api";

/// A client of the provider and the claims its tokens carry.
pub struct Client {
    pub id: &'static str,
    pub claims: Value,
}

pub struct Provider {
    pub issuer: String,
    port: u16,
    clients: Value,
    child: Option<Child>,
    http: reqwest::Client,
}

fn harness_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/oidc-provider")
}

/// A fixture key of the auth crate (`rsa_private.pem`, ...).
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../auth/tests/fixtures")
        .join(name)
}

impl Provider {
    /// Starts a provider signing with the first of `keys` (`(kid, fixture file)`).
    pub fn start(keys: &[(&str, &str)], clients: &[Client]) -> Provider {
        let clients = Value::Array(
            clients
                .iter()
                .map(|c| json!({"client_id": c.id, "client_secret": secret(c.id), "claims": c.claims}))
                .collect(),
        );
        let mut provider = Provider {
            issuer: String::new(),
            port: 0,
            clients,
            child: None,
            http: reqwest::Client::new(),
        };
        provider.spawn(keys);
        provider
    }

    fn spawn(&mut self, keys: &[(&str, &str)]) {
        let dir = harness_dir();
        assert!(
            dir.join("node_modules/oidc-provider").is_dir(),
            "the test OpenID provider is not installed: run `npm ci` in {} (scripts/test.sh does)",
            dir.display()
        );
        let keys: Vec<String> = keys
            .iter()
            .map(|(kid, file)| format!("{kid}={}", fixture(file).display()))
            .collect();
        let mut child = Command::new("node")
            .arg(dir.join("provider.mjs"))
            .env("OIDC_PORT", self.port.to_string())
            .env("OIDC_KEYS", keys.join(","))
            .env("OIDC_CLIENTS", self.clients.to_string())
            .env("OIDC_AUDIENCE", AUDIENCE)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node starts (is Node.js installed?)");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the provider's first line");
        let issuer = line
            .trim()
            .strip_prefix("ready ")
            .unwrap_or_else(|| panic!("the provider did not start: {line:?}"))
            .to_string();
        self.port = issuer
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("the issuer names its port");
        self.issuer = issuer;
        self.child = Some(child);
    }

    /// Stops it (the port stays this provider's for `restart`).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port with other keys (a key rotation).
    pub async fn restart(&mut self, keys: &[(&str, &str)]) {
        self.stop();
        // The port is free again once the process is gone; retry briefly if the OS lags.
        for _ in 0..50 {
            let free = std::net::TcpListener::bind(("127.0.0.1", self.port)).is_ok();
            if free {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.spawn(keys);
    }

    /// An access token for `client`, from the token endpoint.
    pub async fn token(&self, client: &str) -> String {
        let response = self
            .http
            .post(format!("{}/token", self.issuer))
            .basic_auth(client, Some(secret(client)))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials&resource=urn%3Atenantry%3Aapi")
            .send()
            .await
            .expect("the token endpoint answers");
        let body: Value = response.json().await.expect("a JSON token response");
        body["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no access token: {body}"))
            .to_string()
    }

    /// What it counted since it (re)started: `jwks`, `discovery` GETs and their `traceparents`.
    async fn hits(&self) -> Value {
        self.http
            .get(format!("{}/__test/hits", self.issuer))
            .send()
            .await
            .expect("the provider answers")
            .json()
            .await
            .expect("JSON hits")
    }

    /// GETs of its JWKS since it (re)started.
    pub async fn jwks_hits(&self) -> u64 {
        self.hits().await["jwks"].as_u64().expect("a count")
    }

    /// The `traceparent` headers of its discovery and JWKS GETs.
    pub async fn traceparents(&self) -> Vec<String> {
        let hits = self.hits().await;
        hits["traceparents"]
            .as_array()
            .map(|all| {
                all.iter()
                    .filter_map(|t| t.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        self.stop();
    }
}

fn secret(client: &str) -> String {
    format!("secret-{client}")
}

/// A token signed with a fixture key as if by a provider: `claims` as given, `kid` in the header.
pub fn sign(key_file: &str, alg: Algorithm, kid: &str, claims: &Value) -> String {
    let pem = std::fs::read(fixture(key_file)).expect("fixture key");
    let key = match alg {
        Algorithm::ES256 => EncodingKey::from_ec_pem(&pem),
        _ => EncodingKey::from_rsa_pem(&pem),
    }
    .expect("a private key");
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, claims, &key).expect("signed")
}
