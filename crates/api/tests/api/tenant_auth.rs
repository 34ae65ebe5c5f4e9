//! API.md "Authentication and roles" for `/v1`: bearer JWT required and verified; roles.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestApp, json_of, now, problem};

async fn unauthorized(app: &TestApp, token: Option<&str>) {
    let mut request = app.request(Method::GET, "/v1/tenant");
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string());
    assert!(
        challenge
            .as_deref()
            .is_some_and(|c| c.starts_with("Bearer")),
        "{challenge:?}"
    );
    problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn tokens_are_required_and_verified() {
    let app = TestApp::spawn().await;
    let id = app.create_tenant().await;
    unauthorized(&app, None).await;
    unauthorized(&app, Some("not-a-jwt")).await;
    unauthorized(
        &app,
        Some(&app.sign(json!({"tid": id, "exp": now() - 120}))),
    )
    .await;
    unauthorized(
        &app,
        Some(&app.sign(json!({"tid": id, "nbf": now() + 600}))),
    )
    .await;
    unauthorized(
        &app,
        Some(&app.sign(json!({"tid": id, "iss": "someone-else"}))),
    )
    .await;
    unauthorized(
        &app,
        Some(&app.sign(json!({"tid": id, "aud": "another-api"}))),
    )
    .await;
    for missing in ["exp", "iss", "aud"] {
        unauthorized(&app, Some(&app.sign(json!({"tid": id, missing: null})))).await;
    }
    // Signed with another secret.
    let foreign = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({"sub": "x", "tid": id, "iss": "tenantry", "aud": "tenantry-api", "exp": now() + 60}),
        &EncodingKey::from_secret(b"another-secret-another-secret-another-secret"),
    )
    .unwrap();
    unauthorized(&app, Some(&foreign)).await;
    // alg: none.
    let good = app.token(&id, &["viewer"]);
    let mut parts = good.split('.');
    let (_, payload) = (parts.next(), parts.next().unwrap());
    let none_header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0"; // {"alg":"none","typ":"JWT"}
    unauthorized(&app, Some(&format!("{none_header}.{payload}."))).await;
    // Within leeway, an just-expired token still works.
    let recent = app.sign(json!({"tid": id, "roles": ["viewer"], "exp": now() - 5}));
    json_of(
        app.v1(Method::GET, "/v1/tenant", &recent)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
}

#[tokio::test]
async fn roles_gate_tenant_routes() {
    let app = TestApp::spawn().await;
    let id = app.create_tenant().await;
    for roles in [&["viewer"][..], &["member"], &["admin"]] {
        let token = app.token(&id, roles);
        json_of(
            app.v1(Method::GET, "/v1/tenant", &token)
                .send()
                .await
                .unwrap(),
            StatusCode::OK,
        )
        .await;
    }
    for roles in [&[][..], &["platform-admin"], &["superuser"]] {
        let token = app.token(&id, roles);
        problem(
            app.v1(Method::GET, "/v1/tenant", &token)
                .send()
                .await
                .unwrap(),
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
    }
}
