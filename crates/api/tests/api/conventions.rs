//! API.md "Conventions": problem documents, request ids, media types, body limits, health.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestApp, json_of, problem, problem_errors};

#[tokio::test]
async fn health_and_readiness() {
    let app = TestApp::spawn().await;
    let health = json_of(
        app.request(Method::GET, "/healthz").send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(health["status"], "ok");
    let ready = json_of(
        app.request(Method::GET, "/readyz").send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(ready["status"], "ready");
}

#[tokio::test]
async fn readyz_is_503_when_the_catalog_cluster_is_unreachable() {
    // A port nothing listens on; the server still starts and says it is not ready.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let uri = format!("mongodb://{closed}/?directConnection=true&serverSelectionTimeoutMS=300");
    let app = TestApp::spawn_with(&[("TENANTRY_MONGODB_URI", &uri)]).await;
    let health = app.request(Method::GET, "/healthz").send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let ready = app.request(Method::GET, "/readyz").send().await.unwrap();
    assert!(ready.headers().contains_key("retry-after"));
    problem(ready, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
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
    let app = TestApp::spawn_with(&[("TENANTRY_BODY_LIMIT_BYTES", "1024")]).await;
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
    let app = TestApp::spawn_with(&[("TENANTRY_CORS_ORIGINS", "https://app.example.com")]).await;
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
