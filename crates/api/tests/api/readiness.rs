//! `/readyz`: every check named with a status and a detail; `unready` (503) only when the
//! instance can serve nothing, `degraded` (200) when some tenants' cluster or the projector fails.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::{TestApp, json_of, problem};

/// A URI of a port nothing listens on: the driver gives up quickly.
fn unreachable_uri() -> String {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    format!("mongodb://{closed}/?directConnection=true&serverSelectionTimeoutMS=300")
}

/// `/readyz` (200) until `until` holds of its body, or the last body after 20 s.
async fn readiness_until(app: &TestApp, until: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let response = app.request(Method::GET, "/readyz").send().await.unwrap();
        let body = json_of(response, StatusCode::OK).await;
        if until(&body) || Instant::now() > deadline {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn check<'a>(body: &'a Value, name: &str) -> (&'a str, &'a str) {
    let check = &body["checks"][name];
    let status = check["status"].as_str();
    let detail = check["detail"].as_str();
    (
        status.unwrap_or_else(|| panic!("no check {name} in {body}")),
        detail.unwrap_or_else(|| panic!("check {name} has no detail in {body}")),
    )
}

fn default_cluster(app: &TestApp) -> String {
    let name = &app.state.pools.default_cluster().unwrap().name;
    format!("cluster.{name}")
}

#[tokio::test]
async fn a_healthy_instance_is_ready_and_names_every_check() {
    let app = TestApp::spawn().await;
    let body = readiness_until(&app, |b| b["status"] == "ready").await;
    assert_eq!(body["status"], "ready", "{body}");
    let names: Vec<&str> = body["checks"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let cluster = default_cluster(&app);
    assert_eq!(names, ["catalog", cluster.as_str(), "keys", "projector"]);
    for name in &names {
        assert_eq!(check(&body, name).0, "pass", "{body}");
    }
    assert!(check(&body, "catalog").1.starts_with("answers a ping in "));
    assert_eq!(check(&body, "keys").1, "1 static key(s) loaded at start");
    let projector = check(&body, "projector").1;
    assert!(
        projector.starts_with("streaming on 1 cluster(s); oldest unapplied event "),
        "{projector}"
    );
}

#[tokio::test]
async fn an_instance_without_projector_says_so_and_is_ready() {
    let app = TestApp::spawn_with(|c| c.projector = false).await;
    let body = readiness_until(&app, |b| b["status"] == "ready").await;
    assert_eq!(body["status"], "ready", "{body}");
    assert_eq!(
        check(&body, "projector"),
        ("disabled", "TENANTRY_PROJECTOR is off on this instance")
    );
}

#[tokio::test]
async fn one_unreachable_cluster_of_two_degrades_the_instance_but_keeps_it_in_service() {
    let far = format!("far={}", unreachable_uri());
    let app = TestApp::spawn_with_settings(&[("TENANTRY_CLUSTERS", &far)]).await;
    let body = readiness_until(&app, |b| {
        b["checks"]["projector"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("far: change stream failing"))
    })
    .await;
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(check(&body, "cluster.far").0, "fail", "{body}");
    assert_eq!(check(&body, &default_cluster(&app)).0, "pass", "{body}");
    assert_eq!(check(&body, "catalog").0, "pass", "{body}");
    let (status, detail) = check(&body, "projector");
    assert_eq!(status, "fail");
    assert!(
        detail.contains("far: change stream failing for "),
        "{detail}"
    );
    // The cause is in the log, not in the public answer.
    assert!(!body.to_string().contains("127.0.0.1"), "{body}");
}

#[tokio::test]
async fn an_unreachable_catalog_is_503_naming_the_failed_checks() {
    let uri = unreachable_uri();
    let app = TestApp::spawn_with_settings(&[("TENANTRY_MONGODB_URI", &uri)]).await;
    let health = app.request(Method::GET, "/healthz").send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let ready = app.request(Method::GET, "/readyz").send().await.unwrap();
    assert!(ready.headers().contains_key("retry-after"));
    let body = problem(ready, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.starts_with("not ready: catalog: "), "{detail}");
    assert_eq!(body["checks"]["catalog"]["status"], "fail", "{body}");
    assert_eq!(
        body["checks"][default_cluster(&app)]["status"],
        "fail",
        "{body}"
    );
    assert_eq!(body["checks"]["keys"]["status"], "pass", "{body}");
}
