//! docs/API.md "Authentication and roles" for `/admin`: the admin key or a platform-admin token.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestApp, json_of, problem};

#[tokio::test]
async fn admin_routes_need_a_credential() {
    let app = TestApp::spawn().await;
    let anonymous = app
        .request(Method::GET, "/admin/tenants")
        .send()
        .await
        .unwrap();
    assert_eq!(
        anonymous.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .split(' ')
            .next(),
        Some("Bearer")
    );
    problem(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let wrong_key = app
        .request(Method::GET, "/admin/tenants")
        .bearer_auth("not-the-key")
        .send()
        .await
        .unwrap();
    problem(wrong_key, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let basic = app
        .request(Method::GET, "/admin/tenants")
        .basic_auth("admin", Some(&app.admin_key))
        .send()
        .await
        .unwrap();
    problem(basic, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let with_key = app
        .admin(Method::GET, "/admin/tenants")
        .send()
        .await
        .unwrap();
    json_of(with_key, StatusCode::OK).await;
}

#[tokio::test]
async fn platform_admin_tokens_are_accepted_and_tenant_tokens_are_not() {
    let app = TestApp::spawn().await;
    let platform = app.sign(json!({"roles": ["platform-admin"]}));
    let ok = app
        .request(Method::GET, "/admin/tenants")
        .bearer_auth(&platform)
        .send()
        .await
        .unwrap();
    json_of(ok, StatusCode::OK).await;
    let tenant_admin = app.token("acme", &["admin"]);
    let denied = app
        .request(Method::GET, "/admin/tenants")
        .bearer_auth(&tenant_admin)
        .send()
        .await
        .unwrap();
    problem(denied, StatusCode::FORBIDDEN, "forbidden").await;
    let expired =
        app.sign(json!({"roles": ["platform-admin"], "exp": crate::support::now() - 3600}));
    let late = app
        .request(Method::GET, "/admin/tenants")
        .bearer_auth(&expired)
        .send()
        .await
        .unwrap();
    problem(late, StatusCode::UNAUTHORIZED, "unauthorized").await;
}
