//! A real Tenantry server on 127.0.0.1:0 against the test database, and helpers to talk to it.

use std::net::SocketAddr;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;
use tenantry_api::state::AppState;
use tenantry_api::{Application, Config};
use tokio::sync::oneshot;

use crate::contract::{ApiRequest, Contract};

pub const BASE_DOMAIN: &str = "api.tenantry.test";

pub struct TestApp {
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    pub admin_key: String,
    pub jwt_secret: String,
    pub catalog_db: String,
    pub state: AppState,
    /// The OpenAPI document it serves: every request through `request` is checked against it.
    pub contract: Arc<Contract>,
    _shutdown: oneshot::Sender<()>,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(|_| {}).await
    }

    /// A server whose configuration `configure` adjusts, field by field:
    /// `TestApp::spawn_with(|c| c.projection_wait = Duration::from_secs(5))`.
    pub async fn spawn_with(configure: impl FnOnce(&mut Config)) -> TestApp {
        TestApp::build(&new_catalog(), &[], configure).await
    }

    /// A server configured by `TENANTRY_*` settings, for tests of the settings themselves
    /// (their syntax, a configuration file, issuer lists).
    pub async fn spawn_with_settings(settings: &[(&str, &str)]) -> TestApp {
        TestApp::build(&new_catalog(), settings, |_| {}).await
    }

    /// A second instance sharing another's catalog (cross-instance behaviour).
    pub async fn spawn_on_catalog(catalog_db: &str) -> TestApp {
        TestApp::build(catalog_db, &[], |_| {}).await
    }

    /// `spawn_on_catalog`, its configuration adjusted like `spawn_with`'s.
    pub async fn spawn_on_catalog_with(
        catalog_db: &str,
        configure: impl FnOnce(&mut Config),
    ) -> TestApp {
        TestApp::build(catalog_db, &[], configure).await
    }

    async fn build(
        catalog_db: &str,
        settings: &[(&str, &str)],
        configure: impl FnOnce(&mut Config),
    ) -> TestApp {
        let admin_key = testkit::unique_name("admin-key");
        let jwt_secret = format!(
            "{}-{}",
            testkit::unique_name("secret"),
            "0123456789abcdef0123456789"
        );
        let mut pairs: Vec<(&str, String)> = vec![
            ("TENANTRY_LISTEN", "127.0.0.1:0".into()),
            ("TENANTRY_MONGODB_URI", testkit::mongodb_uri()),
            ("TENANTRY_CATALOG_DB", catalog_db.to_string()),
            ("TENANTRY_BASE_DOMAINS", BASE_DOMAIN.into()),
            ("TENANTRY_JWT_SECRET", jwt_secret.clone()),
            (
                "TENANTRY_ADMIN_KEY_SHA256",
                tenantry_auth::AdminKey::digest_hex_of(&admin_key),
            ),
        ];
        for (k, v) in settings {
            pairs.retain(|(name, _)| name != k);
            pairs.push((k, v.to_string()));
        }
        let mut config = Config::from_pairs(pairs).expect("test config is valid");
        configure(&mut config);
        // The server's log, shown by the test runner when a test fails.
        drop(tenantry_api::telemetry::init(
            tenantry_api::config::LogFormat::Pretty,
            None,
        ));
        let app = Application::build(config).await.expect("server builds");
        let addr = app.local_addr().expect("bound");
        let state = app.state().clone();
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(app.run_until(async {
            let _ = rx.await;
        }));
        let http = reqwest::Client::new();
        let contract = Contract::of(&http, &format!("http://{addr}")).await;
        TestApp {
            addr,
            http,
            contract,
            admin_key,
            jwt_secret,
            catalog_db: catalog_db.to_string(),
            state,
            _shutdown: tx,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A request to the server, checked against its OpenAPI document (see `contract`).
    pub fn request(&self, method: Method, path: &str) -> ApiRequest {
        let request = self.http.request(method, self.url(path));
        ApiRequest::new(request, Some(Arc::clone(&self.contract)))
    }

    pub fn admin(&self, method: Method, path: &str) -> ApiRequest {
        self.request(method, path).bearer_auth(&self.admin_key)
    }

    /// A request to a tenant route with a bearer token.
    pub fn v1(&self, method: Method, path: &str, token: &str) -> ApiRequest {
        self.request(method, path).bearer_auth(token)
    }

    pub fn new_tenant_id(&self) -> String {
        testkit::unique_name("t")
    }

    /// Creates a tenant through the admin API (asserting 201) and returns it.
    pub async fn create_tenant_with(&self, body: Value) -> Value {
        let response = self
            .admin(Method::POST, "/admin/tenants")
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = response.status();
        let json: Value = response.json().await.expect("json");
        assert_eq!(status, StatusCode::CREATED, "{json}");
        json
    }

    pub async fn create_tenant(&self) -> String {
        let id = self.new_tenant_id();
        self.create_tenant_with(json!({"id": id, "name": format!("Tenant {id}")}))
            .await;
        id
    }

    /// Signs `claims` with the server's HS256 secret; `iss`, `aud`, `exp`, `sub`, `iat` default
    /// sensibly.
    pub fn sign(&self, claims: Value) -> String {
        sign_with(&self.jwt_secret, claims)
    }

    /// A token for `tenant` with `roles`.
    pub fn token(&self, tenant: &str, roles: &[&str]) -> String {
        self.sign(json!({"tid": tenant, "roles": roles}))
    }
}

/// A catalog database of its own.
fn new_catalog() -> String {
    testkit::unique_name("cat").replace('-', "_")
}

/// Signs `claims` with an HS256 secret; `iss`, `aud`, `exp`, `sub`, `iat` default sensibly (a
/// `null` removes one).
pub fn sign_with(secret: &str, claims: Value) -> String {
    let mut full = json!({
        "sub": "user-1",
        "iss": "tenantry",
        "aud": "tenantry-api",
        "exp": now() + 600,
        "iat": now(),
    });
    if let (Some(full), Value::Object(extra)) = (full.as_object_mut(), claims) {
        for (k, v) in extra {
            if v.is_null() {
                full.remove(&k);
            } else {
                full.insert(k, v);
            }
        }
    }
    let key = EncodingKey::from_secret(secret.as_bytes());
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &full, &key).expect("sign")
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Asserts a problem document of `status` and `code`, and returns it.
pub async fn problem(response: Response, status: StatusCode, code: &str) -> Value {
    let actual = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let body: Value = response.json().await.expect("problem body is JSON");
    assert_eq!(actual, status, "{body}");
    assert_eq!(
        content_type.as_deref(),
        Some("application/problem+json"),
        "{body}"
    );
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status.as_u16(), "{body}");
    assert_eq!(body["type"], format!("urn:tenantry:problem:{code}"));
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    assert_eq!(body["request_id"].as_str(), request_id.as_deref(), "{body}");
    body
}

/// Asserts a JSON response of `status` and returns its body.
pub async fn json_of(response: Response, status: StatusCode) -> Value {
    let actual = response.status();
    let body: Value = response.json().await.expect("JSON body");
    assert_eq!(actual, status, "{body}");
    body
}

/// The outcome of a JSON call: status, headers, body (`Null` when empty).
pub struct Call {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Call {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `X-Event-Position` of a command's answer.
    pub fn position(&self) -> i64 {
        self.header("x-event-position")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no X-Event-Position: {}", self.body))
    }

    pub fn expect(self, status: StatusCode) -> Value {
        assert_eq!(self.status, status, "{}", self.body);
        self.body
    }

    /// Asserts a problem `code` with `status`.
    pub fn problem(self, status: StatusCode, code: &str) -> Value {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.body["code"], code, "{}", self.body);
        self.body
    }
}

impl TestApp {
    /// Sends a JSON request to an admin route.
    pub async fn admin_json(&self, method: Method, path: &str, body: Option<Value>) -> Call {
        send(self.admin(method, path), body, &[]).await
    }

    /// The JSON of an admin GET that must answer 200.
    pub async fn admin_get(&self, path: &str) -> Value {
        self.admin_json(Method::GET, path, None)
            .await
            .expect(StatusCode::OK)
    }

    /// Sends a JSON request to a tenant route.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Call {
        send(self.v1(method, path, token), body, headers).await
    }
}

/// Sends a request with an optional JSON body and extra headers; its answer as a `Call`.
pub async fn send(request: ApiRequest, body: Option<Value>, headers: &[(&str, &str)]) -> Call {
    try_send(request, body, headers)
        .await
        .expect("the server answers")
}

/// `send`, or `None` when the server gives no answer (connection refused or reset).
pub async fn try_send(
    request: ApiRequest,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> Option<Call> {
    let mut request = request;
    if let Some(body) = body {
        request = request.json(&body);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.ok()?;
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.ok()?;
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("JSON body")
    };
    Some(Call {
        status,
        headers,
        body,
    })
}

impl TestApp {
    /// A token minted by the server (`POST /admin/tenants/{id}/tokens`, so it carries `tinc`).
    pub async fn mint(&self, id: &str, roles: &[&str]) -> String {
        let response = self
            .admin(Method::POST, &format!("/admin/tenants/{id}/tokens"))
            .json(&json!({"sub": "owner", "roles": roles}))
            .send()
            .await
            .expect("request");
        json_of(response, StatusCode::CREATED).await["token"]
            .as_str()
            .expect("a token")
            .to_string()
    }

    /// Deletes the tenant and waits until the deletion is finished (the id is free again).
    pub async fn delete_tenant_and_wait(&self, id: &str) {
        let response = self
            .admin(Method::DELETE, &format!("/admin/tenants/{id}"))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::time::Instant::now() < deadline {
            let status = self
                .admin(Method::GET, &format!("/admin/tenants/{id}"))
                .send()
                .await
                .expect("request")
                .status();
            if status == StatusCode::NOT_FOUND {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("the deletion of {id} did not finish");
    }

    /// A new tenant and a token for it with `roles`.
    pub async fn tenant_with_token(&self, roles: &[&str]) -> (String, String) {
        let id = self.create_tenant().await;
        let token = self.token(&id, roles);
        (id, token)
    }

    /// Creates a product (asserting 201) and returns (body, event position).
    pub async fn product(
        &self,
        token: &str,
        sku: &str,
        name: &str,
        price: i64,
        stock: i64,
    ) -> (Value, i64) {
        let body =
            serde_json::json!({"sku": sku, "name": name, "price_cents": price, "stock": stock});
        let call = self
            .call(Method::POST, "/v1/products", token, Some(body), &[])
            .await;
        let position = call.position();
        (call.expect(StatusCode::CREATED), position)
    }

    /// `GET /v1/products` once the projections have reached `position` (200 asserted).
    pub async fn products_at(&self, token: &str, position: i64) -> Value {
        self.get_at("/v1/products", token, position).await
    }

    /// `GET path` once the projections have reached `position` (200 asserted).
    pub async fn get_at(&self, path: &str, token: &str, position: i64) -> Value {
        let min = position.to_string();
        self.call(Method::GET, path, token, None, &[("x-min-position", &min)])
            .await
            .expect(StatusCode::OK)
    }

    /// `GET /admin/tenants/{id}/stats` (200 asserted).
    pub async fn stats(&self, id: &str) -> Value {
        json_of(
            self.admin(Method::GET, &format!("/admin/tenants/{id}/stats"))
                .send()
                .await
                .unwrap(),
            StatusCode::OK,
        )
        .await
    }

    /// Places an order of `lines` (product id, qty) for `customer`.
    pub async fn order(&self, token: &str, customer: &str, lines: &[(&str, i64)]) -> Call {
        let lines: Vec<Value> = lines
            .iter()
            .map(|(p, q)| serde_json::json!({"product_id": p, "qty": q}))
            .collect();
        let body = serde_json::json!({"customer": {"id": customer, "name": format!("Customer {customer}")}, "lines": lines});
        self.call(Method::POST, "/v1/orders", token, Some(body), &[])
            .await
    }
}

/// A driver client on the test database, for looking behind the API.
pub async fn mongo() -> mongodb::Client {
    mongodb::Client::with_uri_str(testkit::mongodb_uri())
        .await
        .expect("test database client")
}

impl TestApp {
    /// Writes a tenant record straight into the catalog, as a crash or a buggy writer may leave
    /// it; returns the name of its database.
    pub async fn insert_tenant_record(&self, id: &str, status: &str) -> String {
        self.insert_tenant_record_in(id, status, None).await
    }

    /// `insert_tenant_record` with a database name of the caller's choice.
    pub async fn insert_tenant_record_in(
        &self,
        id: &str,
        status: &str,
        database: Option<&str>,
    ) -> String {
        let now = mongodb::bson::DateTime::now();
        let incarnation = tenancy::Incarnation::generate();
        let database = database.map_or_else(|| format!("t_{id}_{incarnation}"), String::from);
        let record = mongodb::bson::doc! {
            "_id": id, "incarnation": incarnation.as_str(), "name": format!("Raw {id}"), "status": status,
            "plan": "free", "cluster": "default", "database": &database, "isolation": "shared",
            "domains": [], "limits": {}, "schema_version": 0, "created_at": now, "updated_at": now,
        };
        let tenants = mongo()
            .await
            .database(&self.catalog_db)
            .collection::<mongodb::bson::Document>("tenants");
        tenants.insert_one(record).await.expect("catalog insert");
        database
    }

    /// Sets the schema version the catalog records for `tenant` (a tenant from before a
    /// migration).
    pub async fn set_schema_version(&self, tenant: &str, version: u32) {
        mongo()
            .await
            .database(&self.catalog_db)
            .collection::<mongodb::bson::Document>("tenants")
            .update_one(
                mongodb::bson::doc! {"_id": tenant},
                mongodb::bson::doc! {"$set": {"schema_version": version}},
            )
            .await
            .expect("catalog");
    }

    /// The database of the tenant's current incarnation, from the catalog.
    pub async fn database_of(&self, id: &str) -> String {
        let id = tenancy::TenantId::parse(id).expect("tenant id");
        self.state
            .catalog
            .store()
            .require(&id)
            .await
            .expect("tenant in the catalog")
            .database
    }
}

impl TestApp {
    /// `n` active tenants written straight into the catalog (no database: reads find nothing),
    /// for scale tests that only need tenants to exist.
    pub async fn insert_active_tenants(&self, n: usize) -> Vec<String> {
        let now = mongodb::bson::DateTime::now();
        let version = tenantry_api::platform::schema().latest_version();
        let ids: Vec<String> = (0..n).map(|_| self.new_tenant_id()).collect();
        let records = ids.iter().map(|id| {
            let incarnation = tenancy::Incarnation::generate();
            mongodb::bson::doc! {
                "_id": id, "incarnation": incarnation.as_str(), "name": id, "status": "active",
                "plan": "free", "cluster": "default", "database": format!("t_{id}_{incarnation}"),
                "isolation": "shared", "domains": [], "limits": {}, "schema_version": version,
                "created_at": now, "updated_at": now,
            }
        });
        let tenants = mongo()
            .await
            .database(&self.catalog_db)
            .collection::<mongodb::bson::Document>("tenants");
        tenants.insert_many(records).await.expect("catalog insert");
        ids
    }
}

/// The `errors` entries of a problem body: each entry's `key` (`field` or `message`), in order.
pub fn problem_errors<'a>(problem: &'a Value, key: &str) -> Vec<&'a str> {
    problem["errors"]
        .as_array()
        .expect("the problem lists errors")
        .iter()
        .map(|e| e[key].as_str().expect("each error names it"))
        .collect()
}

/// Every document of `collection`, in `_id` order.
pub async fn all_documents(
    db: &mongodb::Database,
    collection: &str,
) -> Vec<mongodb::bson::Document> {
    use futures::TryStreamExt;
    db.collection::<mongodb::bson::Document>(collection)
        .find(mongodb::bson::doc! {})
        .sort(mongodb::bson::doc! {"_id": 1})
        .await
        .expect("find")
        .try_collect()
        .await
        .expect("documents")
}

/// Makes the migration `name` of `component` pending again in a tenant database's ledger (a
/// tenant from before it).
pub async fn unapply(
    db: &mongodb::Database,
    component: &tenancy::migrations::Component,
    name: &str,
) {
    let migration = component
        .migrations
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("{} has a migration {name}", component.name));
    let entry = format!("migration:{}:{}", component.name, migration.version);
    let removed = db
        .collection::<mongodb::bson::Document>("_meta")
        .delete_one(mongodb::bson::doc! {"_id": entry})
        .await
        .expect("ledger");
    assert_eq!(removed.deleted_count, 1, "{name} was in the ledger");
}

/// Namespaces a database costs its cluster: collections and their indexes, `_id` included.
pub async fn namespaces(db: &mongodb::Database) -> usize {
    let mut namespaces = 0;
    for collection in db.list_collection_names().await.expect("collections") {
        let indexes = db
            .collection::<mongodb::bson::Document>(&collection)
            .list_index_names()
            .await
            .expect("indexes");
        namespaces += 1 + indexes.len();
    }
    namespaces
}

/// The body of the answer to `request`, as text.
pub async fn text_of(request: ApiRequest) -> String {
    request
        .send()
        .await
        .expect("the server answers")
        .text()
        .await
        .expect("a text body")
}

/// The value of an unlabelled series in a Prometheus text (0 when absent).
pub fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(0.0)
}
