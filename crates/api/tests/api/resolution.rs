//! docs/API.md "Tenant resolution": JWT claim, subdomain, custom domain and header selectors, and the
//! cross-tenant matrix (tenant A's token with every way of naming B never yields B).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{BASE_DOMAIN, TestApp, json_of, problem};

async fn current(app: &TestApp, token: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = app.v1(Method::GET, "/v1/tenant", token);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

async fn resolves_to(app: &TestApp, token: &str, headers: &[(&str, &str)], tenant: &str) {
    let body = json_of(current(app, token, headers).await, StatusCode::OK).await;
    assert_eq!(body["id"], tenant, "headers {headers:?}");
}

#[tokio::test]
async fn each_selector_names_the_tenant() {
    let app = TestApp::spawn().await;
    let id = app.new_tenant_id();
    app.create_tenant_with(
        json!({"id": id, "name": "A", "domains": ["shop.acme-resolve.example"]}),
    )
    .await;
    let token = app.token(&id, &["viewer"]);
    let sub = format!("{id}.{BASE_DOMAIN}");
    let sub_with_port = format!("{id}.{BASE_DOMAIN}:8080");
    resolves_to(&app, &token, &[], &id).await;
    resolves_to(&app, &token, &[("x-tenant-id", &id)], &id).await;
    resolves_to(&app, &token, &[("host", &sub)], &id).await;
    resolves_to(&app, &token, &[("host", &sub_with_port)], &id).await;
    resolves_to(&app, &token, &[("host", "shop.acme-resolve.example")], &id).await;
    resolves_to(
        &app,
        &token,
        &[("host", "SHOP.acme-resolve.example:443")],
        &id,
    )
    .await;
    resolves_to(&app, &token, &[("host", &sub), ("x-tenant-id", &id)], &id).await;
    // The bare base domain and unknown hosts name no tenant: the token decides.
    resolves_to(&app, &token, &[("host", BASE_DOMAIN)], &id).await;
    resolves_to(&app, &token, &[("host", "unknown.example.net")], &id).await;
}

#[tokio::test]
async fn the_tenants_claim_authorises_several_tenants() {
    let app = TestApp::spawn().await;
    let (a, b) = (app.create_tenant().await, app.create_tenant().await);
    let token = app.sign(json!({"tid": a, "tenants": [b], "roles": ["viewer"]}));
    resolves_to(&app, &token, &[], &a).await;
    resolves_to(&app, &token, &[("x-tenant-id", &b)], &b).await;
    let list_only = app.sign(json!({"tenants": [a, b], "roles": ["viewer"]}));
    resolves_to(&app, &list_only, &[("x-tenant-id", &a)], &a).await;
    problem(
        current(&app, &list_only, &[]).await,
        StatusCode::BAD_REQUEST,
        "tenant_required",
    )
    .await;
}

#[tokio::test]
async fn selector_errors() {
    let app = TestApp::spawn().await;
    let (a, b) = (app.create_tenant().await, app.create_tenant().await);
    let both = app.sign(json!({"tid": a, "tenants": [b], "roles": ["viewer"]}));
    let sub_b = format!("{b}.{BASE_DOMAIN}");
    // Explicit selectors that disagree: 400 tenant_conflict (even when the token allows both).
    problem(
        current(&app, &both, &[("host", &sub_b), ("x-tenant-id", &a)]).await,
        StatusCode::BAD_REQUEST,
        "tenant_conflict",
    )
    .await;
    // Invalid ids in selectors: 400 invalid_tenant_id.
    problem(
        current(&app, &both, &[("x-tenant-id", "Not_An_Id")]).await,
        StatusCode::BAD_REQUEST,
        "invalid_tenant_id",
    )
    .await;
    problem(
        current(&app, &both, &[("x-tenant-id", "admin")]).await,
        StatusCode::BAD_REQUEST,
        "invalid_tenant_id",
    )
    .await;
    let bad_sub = format!("www.{BASE_DOMAIN}");
    problem(
        current(&app, &both, &[("host", &bad_sub)]).await,
        StatusCode::BAD_REQUEST,
        "invalid_tenant_id",
    )
    .await;
    // No selector and no tid: 400 tenant_required; a selector with such a token: 403.
    let no_tenant = app.sign(json!({"roles": ["viewer"]}));
    problem(
        current(&app, &no_tenant, &[]).await,
        StatusCode::BAD_REQUEST,
        "tenant_required",
    )
    .await;
    problem(
        current(&app, &no_tenant, &[("x-tenant-id", &a)]).await,
        StatusCode::FORBIDDEN,
        "tenant_mismatch",
    )
    .await;
    // Unknown tenant (authorised by the token): 404 tenant_not_found.
    let ghost = app.new_tenant_id();
    let ghost_token = app.token(&ghost, &["viewer"]);
    problem(
        current(&app, &ghost_token, &[]).await,
        StatusCode::NOT_FOUND,
        "tenant_not_found",
    )
    .await;
}

/// Tenant A's token with B named by header, subdomain, custom domain: 403 tenant_mismatch, and the
/// answer for an existing B is the same as for a B that does not exist.
#[tokio::test]
async fn cross_tenant_matrix_never_yields_the_other_tenant() {
    let app = TestApp::spawn().await;
    let a = app.create_tenant().await;
    let b = app.new_tenant_id();
    app.create_tenant_with(
        json!({"id": b, "name": "Secret B", "domains": ["b-shop.matrix.example"]}),
    )
    .await;
    let ghost = app.new_tenant_id();
    for roles in [&["viewer"][..], &["admin"], &["member"]] {
        let token = app.token(&a, roles);
        for target in [&b, &ghost] {
            let sub = format!("{target}.{BASE_DOMAIN}");
            for headers in [
                vec![("x-tenant-id", target.as_str())],
                vec![("host", sub.as_str())],
            ] {
                let body = problem(
                    current(&app, &token, &headers).await,
                    StatusCode::FORBIDDEN,
                    "tenant_mismatch",
                )
                .await;
                assert_no_trace_of(&body, &b);
                assert!(!body.to_string().contains("Secret B"));
            }
        }
        let body = problem(
            current(&app, &token, &[("host", "b-shop.matrix.example")]).await,
            StatusCode::FORBIDDEN,
            "tenant_mismatch",
        )
        .await;
        assert_no_trace_of(&body, &b);
    }
    // Same detail whether or not B exists.
    let token = app.token(&a, &["viewer"]);
    let existing = problem(
        current(&app, &token, &[("x-tenant-id", &b)]).await,
        StatusCode::FORBIDDEN,
        "tenant_mismatch",
    )
    .await;
    let missing = problem(
        current(&app, &token, &[("x-tenant-id", &ghost)]).await,
        StatusCode::FORBIDDEN,
        "tenant_mismatch",
    )
    .await;
    assert_eq!(existing["detail"], missing["detail"]);
    // B's token cannot be replayed by A's selectors either.
    let b_token = app.token(&b, &["viewer"]);
    problem(
        current(&app, &b_token, &[("x-tenant-id", &a)]).await,
        StatusCode::FORBIDDEN,
        "tenant_mismatch",
    )
    .await;
}

fn assert_no_trace_of(body: &Value, tenant: &str) {
    assert!(
        !body.to_string().contains(tenant),
        "response mentions {tenant}: {body}"
    );
}

#[tokio::test]
async fn selectors_can_be_disabled_and_forwarded_host_is_opt_in() {
    let app = TestApp::spawn_with(|c| {
        c.resolution.header = false;
        c.resolution.custom_domains = false;
    })
    .await;
    let (a, b) = (app.create_tenant().await, app.create_tenant().await);
    let token = app.token(&a, &["viewer"]);
    // Header selector off: ignored, the token decides.
    resolves_to(&app, &token, &[("x-tenant-id", &b)], &a).await;
    // X-Forwarded-Host is not trusted by default.
    let fwd = format!("{b}.{BASE_DOMAIN}");
    resolves_to(&app, &token, &[("x-forwarded-host", &fwd)], &a).await;

    let proxied = TestApp::spawn_with(|c| c.trust_forwarded_host = true).await;
    let (c, d) = (proxied.create_tenant().await, proxied.create_tenant().await);
    let token = proxied.token(&c, &["viewer"]);
    let fwd = format!("{d}.{BASE_DOMAIN}");
    problem(
        current(&proxied, &token, &[("x-forwarded-host", &fwd)]).await,
        StatusCode::FORBIDDEN,
        "tenant_mismatch",
    )
    .await;
    let own = format!("{c}.{BASE_DOMAIN}");
    resolves_to(
        &proxied,
        &token,
        &[("x-forwarded-host", &own), ("host", "127.0.0.1")],
        &c,
    )
    .await;
}

#[tokio::test]
async fn provisioning_and_deleting_tenants_are_unavailable() {
    let app = TestApp::spawn().await;
    for status in ["provisioning", "deleting"] {
        let id = app.new_tenant_id();
        app.insert_tenant_record(&id, status).await;
        let response = current(&app, &app.token(&id, &["viewer"]), &[]).await;
        assert!(response.headers().contains_key("retry-after"), "{status}");
        problem(
            response,
            StatusCode::SERVICE_UNAVAILABLE,
            "tenant_unavailable",
        )
        .await;
    }
}
