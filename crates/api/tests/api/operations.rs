//! Issue "operations": the OpenAPI document, the docs UI, Prometheus metrics, structured logs.

use std::process::Command;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::process::Fleet;
use crate::support::{TestApp, json_of};

/// Every route of docs/API.md, with its methods.
const CONTRACT: &[(&str, &[&str])] = &[
    ("/healthz", &["get"]),
    ("/readyz", &["get"]),
    ("/metrics", &["get"]),
    ("/admin/tenants", &["get", "post"]),
    ("/admin/tenants/{id}", &["get", "patch", "delete"]),
    ("/admin/tenants/{id}/suspend", &["post"]),
    ("/admin/tenants/{id}/resume", &["post"]),
    ("/admin/tenants/{id}/tokens", &["post"]),
    ("/admin/tenants/{id}/stats", &["get"]),
    ("/admin/migrations", &["post"]),
    ("/v1/products", &["get", "post"]),
    ("/v1/products/{id}", &["get", "patch", "delete"]),
    ("/v1/orders", &["get", "post"]),
    ("/v1/orders/{id}", &["get"]),
    ("/v1/orders/{id}/cancel", &["post"]),
    ("/v1/orders/{id}/fulfil", &["post"]),
    ("/v1/reports/sales", &["get"]),
    ("/v1/reports/top-products", &["get"]),
];

fn snapshot_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/snapshots/openapi.json")
}

#[tokio::test]
async fn the_openapi_document_lists_every_route_and_matches_the_snapshot() {
    let app = TestApp::spawn().await;
    let doc = json_of(
        app.request(Method::GET, "/openapi.json")
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    for (path, methods) in CONTRACT {
        for method in *methods {
            let operation = &doc["paths"][path][method];
            assert!(
                operation.is_object(),
                "{method} {path} missing from the document"
            );
            assert!(operation["responses"].is_object());
        }
    }
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["jwt"]["scheme"], "bearer");
    assert_eq!(schemes["admin_key"]["scheme"], "bearer");
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    let create = &doc["paths"]["/v1/orders"]["post"];
    assert!(
        create["responses"]["409"]["content"]["application/problem+json"].is_object(),
        "{create}"
    );
    let params: Vec<&str> = create["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(
        params.contains(&"X-Tenant-ID") && params.contains(&"Idempotency-Key"),
        "{params:?}"
    );

    // The snapshot: reviewed in diffs, updated with UPDATE_SNAPSHOTS=1.
    let rendered = serde_json::to_string_pretty(&doc).unwrap() + "\n";
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(snapshot_path(), &rendered).unwrap();
    }
    let stored = std::fs::read_to_string(snapshot_path())
        .expect("snapshot exists (UPDATE_SNAPSHOTS=1 to create)");
    assert!(
        stored == rendered,
        "the OpenAPI document changed: run with UPDATE_SNAPSHOTS=1 and review the diff"
    );
}

#[tokio::test]
async fn the_docs_ui_is_served_from_the_binary() {
    let app = TestApp::spawn().await;
    let page = app.request(Method::GET, "/docs/").send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(!html.contains("https://"), "no CDN: {html}");
    let bundle = app
        .request(Method::GET, "/docs/swagger-ui-bundle.js")
        .send()
        .await
        .unwrap();
    assert_eq!(bundle.status(), StatusCode::OK);
    assert!(bundle.bytes().await.unwrap().len() > 100_000);
}

/// The docs page rendered by a real headless Chromium (installed by scripts/test.sh).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docs_ui_renders_in_a_headless_browser() {
    let browser = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
    let Some(browser) = browser else {
        assert!(
            std::env::var_os("TENANTRY_REQUIRE_BROWSER").is_none(),
            "TENANTRY_REQUIRE_BROWSER is set but no Chromium is installed"
        );
        eprintln!("skipped: no Chromium (scripts/test.sh installs it)");
        return;
    };
    let app = TestApp::spawn().await;
    let url = app.url("/docs/");
    let profile = std::env::temp_dir().join(testkit::unique_name("chromium"));
    let browser = browser.to_string();
    let dom = tokio::task::spawn_blocking(move || {
        Command::new(browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
            ])
            .args([
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(["--virtual-time-budget=15000", "--dump-dom", &url])
            .output()
    })
    .await
    .unwrap()
    .expect("chromium runs");
    let dom = String::from_utf8_lossy(&dom.stdout);
    // Swagger UI rendered the document: operation blocks for our routes exist in the DOM.
    assert!(
        dom.contains("opblock"),
        "no operations rendered: {}",
        &dom[..dom.len().min(2000)]
    );
    assert!(
        dom.contains("/v1/orders/{id}/cancel"),
        "routes missing from the rendered page"
    );
}

#[tokio::test]
async fn metrics_expose_requests_pools_and_bounded_tenant_labels() {
    let app = TestApp::spawn_with(|c| c.metrics_max_tenants = 1).await;
    let (first, t1) = app.tenant_with_token(&["member"]).await;
    let (second, t2) = app.tenant_with_token(&["member"]).await;
    for token in [&t1, &t2] {
        app.product(token, "M1", "Metered", 10, 1).await;
        app.call(Method::GET, "/v1/products", token, None, &[])
            .await
            .expect(StatusCode::OK);
    }
    app.call(Method::GET, "/v1/nope", &t1, None, &[]).await;
    let response = app.request(Method::GET, "/metrics").send().await.unwrap();
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    let has = |needle: &str| text.lines().any(|l| l.contains(needle));
    // One tenant label is allowed: the first tenant seen keeps its id... unless another test in this
    // process took the slot first; either way the second of ours never gets its own label.
    assert!(
        !has(&format!("tenant=\"{second}\"")),
        "tenant labels are not bounded"
    );
    assert!(has("tenant=\"other\""), "{text}");
    let _ = first;
    assert!(
        has("tenantry_http_requests_total{")
            && has("route=\"/v1/products\"")
            && has("method=\"POST\"")
            && has("status=\"201\"")
    );
    assert!(has("tenantry_http_request_duration_seconds_bucket{"));
    assert!(has(
        "tenantry_pool_connections{cluster=\"default\",state=\"in_use\"}"
    ));
    assert!(has("tenantry_pool_waiting{cluster=\"default\"}"));
    assert!(has("tenantry_dedicated_clients"));
    assert!(has(
        "tenantry_cqrs_dispatch_total{kind=\"command\",name=\"create_product\",outcome=\"ok\"}"
    ));
    assert!(has("tenantry_projection_events_applied_total"));
    assert!(has("tenantry_projection_dead_letters_total"));
    assert!(has("tenantry_projection_delay_seconds"));
}

/// Runs the real binary with JSON logs and checks that requests are logged with their fields and
/// that no secret (JWT secret, admin key, bearer token, database password) ever appears.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_are_structured_and_never_contain_secrets() {
    let fleet = Fleet::new(&[
        (
            "TENANTRY_CLUSTERS",
            "vault=mongodb://vault-user:hunter2-password@127.0.0.1:1/?serverSelectionTimeoutMS=100",
        ),
        ("RUST_LOG", "debug,hyper=info,mongodb=info,h2=info"),
    ]);
    let (secret, admin_key) = (fleet.jwt_secret.clone(), fleet.admin_key.clone());
    let server = fleet.start("logged").await;
    let base = server.url("");
    let http = reqwest::Client::new();
    let (id, token) = server.tenant_and_token().await;
    let listed = http
        .get(format!("{base}/v1/products"))
        .bearer_auth(&token)
        .header("x-request-id", "log-check-1")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), StatusCode::OK);
    let refused = http
        .get(format!("{base}/v1/products"))
        .bearer_auth(format!("{token}x"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let _ = http
        .get(format!("{base}/admin/tenants"))
        .bearer_auth("wrong-admin-key-guess")
        .send()
        .await;

    // Stop it (SIGTERM: graceful) and read everything it wrote.
    let (status, logs) = server.stop();
    assert!(
        status.is_some_and(|s| s.success()),
        "graceful exit: {status:?}"
    );
    let all = logs.join("\n");
    for secret_value in [
        secret.as_str(),
        admin_key.as_str(),
        token.as_str(),
        "hunter2-password",
        "wrong-admin-key-guess",
    ] {
        assert!(!all.contains(secret_value), "a secret leaked into the logs");
    }
    // One structured line per request with its fields.
    let line = logs
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["message"] == "request served" && l["span"]["request_id"] == "log-check-1")
        .unwrap_or_else(|| panic!("no request line for log-check-1 in:\n{all}"));
    assert_eq!(line["span"]["tenant"], id.as_str(), "{line}");
    assert_eq!(line["span"]["route"], "/v1/products");
    assert_eq!(line["span"]["status"], 200);
    assert!(line["span"]["latency_ms"].is_number(), "{line}");
}
