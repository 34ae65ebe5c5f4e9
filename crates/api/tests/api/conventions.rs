//! docs/API.md "Conventions": problem documents, request ids, media types, body limits, health.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestApp, json_of, problem, problem_errors};

/// Liveness checks no dependency (readiness in detail: readiness.rs).
#[tokio::test]
async fn health_is_ok() {
    let app = TestApp::spawn().await;
    let health = json_of(
        app.request(Method::GET, "/healthz").send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(health["status"], "ok");
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let app = TestApp::spawn().await;
    problem(
        app.request(Method::GET, "/nope").send().await.unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    problem(
        app.request(Method::GET, "/v1/nope").send().await.unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let wrong_method = app.request(Method::PUT, "/healthz").send().await.unwrap();
    problem(
        wrong_method,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    let wrong_method = app
        .admin(Method::PUT, "/admin/tenants")
        .send()
        .await
        .unwrap();
    problem(
        wrong_method,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let app = TestApp::spawn().await;
    let echoed = app
        .request(Method::GET, "/healthz")
        .header("x-request-id", "req-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "req-abc-123");
    let generated = app.request(Method::GET, "/healthz").send().await.unwrap();
    let id = generated.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let other = app.request(Method::GET, "/healthz").send().await.unwrap();
    assert_ne!(other.headers()["x-request-id"].to_str().unwrap(), id);
    // A hostile value is replaced, not echoed.
    let hostile = app
        .request(Method::GET, "/healthz")
        .header("x-request-id", "a b\tc")
        .send()
        .await
        .unwrap();
    assert_ne!(hostile.headers()["x-request-id"], "a b\tc");
    let on_error = app
        .request(Method::GET, "/nope")
        .header("x-request-id", "err-1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(on_error, StatusCode::NOT_FOUND, "not_found").await["request_id"],
        "err-1"
    );
}

#[tokio::test]
async fn bodies_must_be_json_objects_with_known_fields() {
    let app = TestApp::spawn().await;
    let text = app
        .admin(Method::POST, "/admin/tenants")
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    problem(
        text,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let none = app
        .admin(Method::POST, "/admin/tenants")
        .body("{}")
        .send()
        .await
        .unwrap();
    problem(
        none,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let malformed = app
        .admin(Method::POST, "/admin/tenants")
        .header("content-type", "application/json")
        .body("{\"id\":")
        .send()
        .await
        .unwrap();
    let body = problem(malformed, StatusCode::BAD_REQUEST, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "$");
    let array = app
        .admin(Method::POST, "/admin/tenants")
        .json(&json!([1]))
        .send()
        .await
        .unwrap();
    problem(array, StatusCode::BAD_REQUEST, "validation_failed").await;
    let bad_fields = app
        .admin(Method::POST, "/admin/tenants")
        .json(&json!({"id": app.new_tenant_id(), "name": 7, "isolation": "solo", "colour": "red", "domains": ["x"]}))
        .send()
        .await
        .unwrap();
    let body = problem(bad_fields, StatusCode::BAD_REQUEST, "validation_failed").await;
    let mut fields = problem_errors(&body, "field");
    fields.sort();
    assert_eq!(
        fields,
        ["colour", "domains[0]", "isolation", "name"],
        "{body}"
    );
}

#[tokio::test]
async fn bodies_over_the_limit_are_413() {
    let app = TestApp::spawn_with(|c| c.body_limit_bytes = 1024).await;
    let big = json!({"id": app.new_tenant_id(), "name": "x".repeat(2000)});
    let response = app
        .admin(Method::POST, "/admin/tenants")
        .json(&big)
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
}

#[tokio::test]
async fn cors_is_off_by_default_and_configurable() {
    let app = TestApp::spawn().await;
    let plain = app
        .request(Method::GET, "/healthz")
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert!(!plain.headers().contains_key("access-control-allow-origin"));
    let app =
        TestApp::spawn_with(|c| c.cors_origins = vec!["https://app.example.com".into()]).await;
    let allowed = app
        .request(Method::GET, "/healthz")
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let other = app
        .request(Method::GET, "/healthz")
        .header("origin", "https://evil.example.com")
        .send()
        .await
        .unwrap();
    assert!(!other.headers().contains_key("access-control-allow-origin"));
}

/// A handler that panics (a failpoint stands in for the bug) answers a 500 problem with the
/// request id, logs the panic in the request's span, and the process keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_answers_a_problem_and_the_process_keeps_serving() {
    let fleet = crate::process::Fleet::new(&[("TENANTRY_FAILPOINTS", "query.read_db=panic")]);
    let server = fleet.start("panicky").await;
    let (_, token) = server.tenant_and_token().await;
    let http = reqwest::Client::new();
    for attempt in ["panic-check-1", "panic-check-2"] {
        let response = http
            .get(server.url("/v1/products"))
            .bearer_auth(&token)
            .header("x-request-id", attempt)
            .send()
            .await
            .unwrap();
        let body = problem(response, StatusCode::INTERNAL_SERVER_ERROR, "internal").await;
        assert_eq!(body["request_id"], attempt, "{body}");
        assert!(
            !body.to_string().contains("failpoint"),
            "the cause leaked: {body}"
        );
    }
    // Commands do not pass the failpoint: the process still works.
    let created = http
        .post(server.url("/v1/products"))
        .bearer_auth(&token)
        .json(&json!({"sku": "SKU-1", "name": "Pen", "price_cents": 100, "stock": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let (status, logs) = server.stop();
    assert!(
        status.is_some_and(|s| s.success()),
        "graceful exit: {status:?}"
    );
    let logged = logs
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| {
            l["message"] == "a request handler panicked"
                && l["span"]["request_id"] == "panic-check-1"
        });
    let logged = logged.unwrap_or_else(|| panic!("no panic line in:\n{}", logs.join("\n")));
    assert_eq!(
        logged["panic"], "failpoint query.read_db reached",
        "{logged}"
    );
    assert_eq!(logged["level"], "ERROR", "{logged}");
}
