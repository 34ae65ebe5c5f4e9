//! docs/API.md "Authentication and roles" for `/v1`: bearer JWT required and verified; roles.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestApp, now, problem};

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
    app.call(Method::GET, "/v1/tenant", &recent, None, &[])
        .await
        .expect(StatusCode::OK);
}

#[tokio::test]
async fn roles_gate_tenant_routes() {
    let app = TestApp::spawn().await;
    let id = app.create_tenant().await;
    for roles in [&["viewer"][..], &["member"], &["admin"]] {
        let token = app.token(&id, roles);
        app.call(Method::GET, "/v1/tenant", &token, None, &[])
            .await
            .expect(StatusCode::OK);
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

fn fixture(name: &str) -> String {
    format!(
        "{}/../auth/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn sign_with(
    alg: Algorithm,
    key: EncodingKey,
    kid: Option<&str>,
    claims: &serde_json::Value,
) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(String::from);
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

/// RS256/ES256/EdDSA public keys (PEM files) and a JWKS document, configured by environment.
#[tokio::test]
async fn asymmetric_keys_and_jwks_are_accepted() {
    let keys = [
        fixture("rsa_public.pem"),
        fixture("ec_public.pem"),
        fixture("ed25519_public.pem"),
    ]
    .join(",");
    let jwks = fixture("jwks.json");
    let app = TestApp::spawn_with_settings(&[
        ("TENANTRY_JWT_PUBLIC_KEYS", &keys),
        ("TENANTRY_JWKS_FILE", &jwks),
    ])
    .await;
    let id = app.create_tenant().await;
    let claims = json!({"sub": "k", "tid": id, "roles": ["viewer"], "iss": "tenantry", "aud": "tenantry-api", "exp": now() + 60, "iat": now()});
    let pem = |name: &str| std::fs::read(fixture(name)).unwrap();
    let tokens = [
        sign_with(
            Algorithm::RS256,
            EncodingKey::from_rsa_pem(&pem("rsa_private.pem")).unwrap(),
            None,
            &claims,
        ),
        sign_with(
            Algorithm::ES256,
            EncodingKey::from_ec_pem(&pem("ec_private.pem")).unwrap(),
            None,
            &claims,
        ),
        sign_with(
            Algorithm::EdDSA,
            EncodingKey::from_ed_pem(&pem("ed25519_private.pem")).unwrap(),
            None,
            &claims,
        ),
        sign_with(
            Algorithm::RS256,
            EncodingKey::from_rsa_pem(&pem("rsa2_private.pem")).unwrap(),
            Some("rsa-2026-01"),
            &claims,
        ),
        sign_with(
            Algorithm::ES256,
            EncodingKey::from_ec_pem(&pem("ec2_private.pem")).unwrap(),
            Some("ec-2026-01"),
            &claims,
        ),
    ];
    for token in &tokens {
        let me = app
            .call(Method::GET, "/v1/tenant", token, None, &[])
            .await
            .expect(StatusCode::OK);
        assert_eq!(me["id"], id.as_str());
    }
    // Algorithm confusion: HS256 "signed" with the RSA public key as the secret.
    let forged = sign_with(
        Algorithm::HS256,
        EncodingKey::from_secret(&pem("rsa_public.pem")),
        None,
        &claims,
    );
    unauthorized(&app, Some(&forged)).await;
    // A key nobody configured.
    let stranger = sign_with(
        Algorithm::RS256,
        EncodingKey::from_rsa_pem(&pem("rsa1024_private.pem")).unwrap(),
        None,
        &claims,
    );
    unauthorized(&app, Some(&stranger)).await;
}

#[tokio::test]
async fn a_bad_key_file_is_a_startup_error_naming_the_setting() {
    let config = tenantry_api::Config::from_pairs([
        ("TENANTRY_MONGODB_URI", testkit::mongodb_uri()),
        ("TENANTRY_LISTEN", "127.0.0.1:0".to_string()),
        ("TENANTRY_JWT_PUBLIC_KEYS", fixture("rsa_private.pem")),
    ])
    .unwrap();
    let err = tenantry_api::Application::build(config)
        .await
        .err()
        .expect("refused");
    assert!(
        format!("{err:#}").contains("TENANTRY_JWT_PUBLIC_KEYS"),
        "{err:#}"
    );
}
