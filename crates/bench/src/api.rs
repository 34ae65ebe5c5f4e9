//! Talking to the server under test: the admin API, tenant tokens (HS256, signed here once per
//! tenant with the server's secret), and the tenants the benchmark made.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::load::{Outcome, REQUEST_TIMEOUT};

/// Tokens are valid this long (longer than any run).
const TOKEN_TTL_SECS: u64 = 24 * 3600;

/// A tenant of this run: its id, database, token, and the ids of its seeded products.
#[derive(Debug, Clone)]
pub struct BenchTenant {
    pub id: String,
    pub database: String,
    /// `Bearer <jwt>`, ready to send.
    pub authorization: HeaderValue,
    pub products: Vec<String>,
}

/// An HTTP client bound to one server, with its admin key and JWT secret.
#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub base_url: String,
    admin: HeaderValue,
    jwt_key: EncodingKey,
}

/// A JSON answer: status and body (`Null` when empty or not JSON).
pub struct Answer {
    pub status: StatusCode,
    pub position: Option<i64>,
    pub body: Value,
}

impl Api {
    pub fn new(base_url: &str, admin_key: &str, jwt_secret: &str) -> Result<Api> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .build()
            .context("building the HTTP client")?;
        let admin = HeaderValue::from_str(&format!("Bearer {admin_key}"))
            .context("the admin key is not a header value")?;
        Ok(Api {
            http,
            base_url: base_url.to_string(),
            admin,
            jwt_key: EncodingKey::from_secret(jwt_secret.as_bytes()),
        })
    }

    /// `Bearer <token>` for a member of `tenant` (members read and write).
    pub fn tenant_authorization(&self, tenant: &str) -> Result<HeaderValue> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .context("the clock is before 1970")?
            .as_secs();
        let claims = json!({
            "sub": "bench",
            "tid": tenant,
            "roles": ["member"],
            "iss": "tenantry",
            "aud": "tenantry-api",
            "iat": now,
            "exp": now + TOKEN_TTL_SECS,
        });
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.jwt_key)
            .context("signing a token")?;
        HeaderValue::from_str(&format!("Bearer {token}")).context("token header")
    }

    /// Sends a request and reads the JSON answer (any status).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        authorization: &HeaderValue,
        body: Option<&Value>,
        headers: &[(&str, String)],
    ) -> Result<Answer> {
        let request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base_url))
            .header(AUTHORIZATION, authorization.clone());
        self.send(request, method, path, body, headers).await
    }

    async fn send(
        &self,
        mut request: reqwest::RequestBuilder,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, String)],
    ) -> Result<Answer> {
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(serde_json::to_vec(body).context("encoding a body")?);
        }
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = response.status();
        let position = response
            .headers()
            .get("x-event-position")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let bytes = response
            .bytes()
            .await
            .with_context(|| format!("reading the answer to {method} {path}"))?;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(Answer {
            status,
            position,
            body,
        })
    }

    /// An admin call.
    pub async fn admin(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Answer> {
        self.call(method, path, &self.admin.clone(), body, &[])
            .await
    }

    /// An admin request to build on (a streamed body or answer).
    pub fn admin_request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base_url))
            .header(AUTHORIZATION, self.admin.clone())
    }

    /// An admin call that may take up to `timeout` (migrating every tenant).
    pub async fn admin_slow(
        &self,
        method: Method,
        path: &str,
        timeout: Duration,
    ) -> Result<Answer> {
        let request = self.admin_request(method.clone(), path).timeout(timeout);
        self.send(request, method, path, None, &[]).await
    }

    /// `POST /admin/tenants` (201, or 200 when it already exists); returns the database name.
    pub async fn create_tenant(&self, id: &str) -> Result<String> {
        let body = json!({"id": id, "name": format!("Bench tenant {id}")});
        let answer = self
            .admin(Method::POST, "/admin/tenants", Some(&body))
            .await?;
        if !matches!(answer.status, StatusCode::CREATED | StatusCode::OK) {
            bail!(
                "POST /admin/tenants {id}: {} {}",
                answer.status,
                answer.body
            );
        }
        answer.body["database"]
            .as_str()
            .map(String::from)
            .with_context(|| format!("no database in {}", answer.body))
    }

    /// `POST /v1/products` with an idempotency key (so a retry is harmless); returns the
    /// product id and the event position.
    pub async fn create_product(
        &self,
        authorization: &HeaderValue,
        sku: &str,
        price_cents: i64,
    ) -> Result<(String, i64)> {
        let body = json!({
            "sku": sku,
            "name": format!("Product {sku}"),
            "price_cents": price_cents,
            "stock": 1_000_000_000i64,
        });
        let key = [("idempotency-key", format!("seed-{sku}"))];
        let answer = self
            .call(
                Method::POST,
                "/v1/products",
                authorization,
                Some(&body),
                &key,
            )
            .await?;
        if answer.status != StatusCode::CREATED {
            bail!("POST /v1/products: {} {}", answer.status, answer.body);
        }
        let id = answer.body["id"]
            .as_str()
            .with_context(|| format!("no id in {}", answer.body))?;
        let position = answer.position.context("no X-Event-Position")?;
        Ok((id.to_string(), position))
    }
}

/// Reads a whole response and turns a non-2xx status into an error with the body.
pub async fn outcome_of(response: reqwest::Result<reqwest::Response>) -> Outcome {
    let response = response.map_err(|e| format!("transport: {e}"))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("{status}, body unreadable: {e}"))?;
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("{status}: {}", String::from_utf8_lossy(&body)))
    }
}
