//! Identity providers against a real OpenID Connect provider (`oidc_provider`): trusted issuers
//! with claims at custom paths and a role mapping, keys found by discovery and rotated without
//! a restart, a provider that is down, unknown `kid`s that must not flood it, and a tenant's own
//! issuer that acts for that tenant only.

use std::time::Duration;

use jsonwebtoken::Algorithm;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::oidc_provider::{AUDIENCE, Client, Provider, sign};
use crate::support::{TestApp, json_of, now, problem, text_of};

/// A server trusting `provider` through the configuration file's `[[oidc_issuer]]` table.
async fn trusting(provider: &Provider, table: &str, extra: &[(&str, &str)]) -> TestApp {
    let dir = std::env::temp_dir().join(testkit::unique_name("oidc"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("tenantry.toml");
    let toml = format!(
        "[[oidc_issuer]]\nissuer = \"{}\"\naudience = \"{AUDIENCE}\"\n{table}",
        provider.issuer
    );
    std::fs::write(&file, toml).expect("config file");
    let file = file.display().to_string();
    let mut settings = vec![("TENANTRY_CONFIG", file.as_str())];
    settings.extend_from_slice(extra);
    TestApp::spawn_with_settings(&settings).await
}

async fn status_of(app: &TestApp, method: Method, path: &str, token: &str) -> StatusCode {
    let mut request = app.v1(method.clone(), path, token);
    if method == Method::POST {
        request =
            request.json(&json!({"sku": testkit::unique_name("s"), "name": "P", "price_cents": 1}));
    }
    request.send().await.expect("request").status()
}

/// The tenant a token acts for (`GET /v1/tenant`, 200 asserted).
async fn tenant_of(app: &TestApp, token: &str) -> Value {
    let response = app.v1(Method::GET, "/v1/tenant", token).send().await;
    json_of(response.expect("request"), StatusCode::OK).await["id"].clone()
}

/// `GET /readyz` (200 asserted: ready or degraded).
async fn readiness(app: &TestApp) -> Value {
    let response = app.request(Method::GET, "/readyz").send().await;
    json_of(response.expect("request"), StatusCode::OK).await
}

/// Asserts readiness is degraded by a failed key fetch of `issuer`, whose detail has `text`.
fn assert_keys_stale(ready: &Value, issuer: &str, text: &str) {
    assert_eq!(ready["status"], "degraded", "{ready}");
    let check = &ready["checks"][format!("keys.{issuer}")];
    assert_eq!(check["status"], "fail", "{ready}");
    let detail = check["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("last fetch failed") && detail.contains(text),
        "{ready}"
    );
}

/// Registered claims of a token the provider could have issued, merged with `extra`.
fn claims(issuer: &str, tenant: &str, extra: Value) -> Value {
    let mut claims = json!({"iss": issuer, "aud": AUDIENCE, "sub": "u1", "iat": now(),
                            "exp": now() + 300, "org": {"id": tenant}, "groups": ["editors"]});
    if let (Some(all), Some(extra)) = (claims.as_object_mut(), extra.as_object()) {
        all.extend(extra.clone());
    }
    claims
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_tokens_name_tenant_and_roles_at_configured_claim_paths() {
    let tenant_claim = "https://example.com/tid";
    // The provider's clients exist before the tenants: their claims name tenants made below.
    let acme = testkit::unique_name("t");
    let globex = testkit::unique_name("t");
    let provider = Provider::start(
        &[("k1", "rsa_private.pem")],
        &[
            Client {
                id: "editor",
                claims: json!({tenant_claim: acme, "realm_access": {"roles": ["editor"]}}),
            },
            Client {
                id: "reader",
                claims: json!({tenant_claim: acme, "realm_access": {"roles": ["reader", "platform-admin"]}}),
            },
            Client {
                id: "outsider",
                claims: json!({tenant_claim: globex, "realm_access": {"roles": ["editor"]}}),
            },
        ],
    );
    let app = trusting(
        &provider,
        &format!(
            "tenant_claim = \"{tenant_claim}\"\nroles_claim = \"realm_access.roles\"\n\
             roles = {{ editor = \"member\", reader = \"viewer\" }}\n"
        ),
        &[],
    )
    .await;
    for id in [&acme, &globex] {
        app.create_tenant_with(json!({"id": id, "name": "T"})).await;
    }
    let editor = provider.token("editor").await;
    let reader = provider.token("reader").await;
    assert_eq!(
        status_of(&app, Method::POST, "/v1/products", &editor).await,
        StatusCode::CREATED
    );
    assert_eq!(
        status_of(&app, Method::GET, "/v1/products", &reader).await,
        StatusCode::OK
    );
    // `reader` maps to viewer: no writes; `platform-admin` from a provider means nothing.
    let denied = app
        .v1(Method::POST, "/v1/products", &reader)
        .json(&json!({"sku": "X", "name": "X", "price_cents": 1}))
        .send()
        .await
        .unwrap();
    problem(denied, StatusCode::FORBIDDEN, "forbidden").await;
    let admin = app
        .request(Method::GET, "/admin/tenants")
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), StatusCode::UNAUTHORIZED);
    // A token for globex used with a selector naming acme.
    let outsider = provider.token("outsider").await;
    let mismatch = app
        .v1(Method::GET, "/v1/products", &outsider)
        .header("x-tenant-id", &acme)
        .send()
        .await
        .unwrap();
    problem(mismatch, StatusCode::FORBIDDEN, "tenant_mismatch").await;
    // Expired, other audience, other issuer (signed with the provider's own key): 401.
    let issuer = provider.issuer.as_str();
    for (what, token) in [
        ("expired", json!({"exp": now() - 120, "iat": now() - 600})),
        ("other audience", json!({"aud": "someone-else"})),
        ("not yet valid", json!({"nbf": now() + 600})),
    ]
    .map(|(what, extra)| {
        let mut all = claims(issuer, &acme, extra);
        all[tenant_claim] = json!(acme);
        (what, sign("rsa_private.pem", Algorithm::RS256, "k1", &all))
    }) {
        let response = app
            .v1(Method::GET, "/v1/products", &token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{what}");
        assert!(
            response.headers().contains_key("www-authenticate"),
            "{what}"
        );
    }
    let foreign = sign(
        "rsa_private.pem",
        Algorithm::RS256,
        "k1",
        &claims("https://login.unknown.example", &acme, json!({})),
    );
    let response = app
        .v1(Method::GET, "/v1/products", &foreign)
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    // HS256 signed with the public key as secret (algorithm confusion) is refused.
    let public = std::fs::read(crate::oidc_provider::fixture("rsa_public.pem")).unwrap();
    let confused = jsonwebtoken::encode(
        &jsonwebtoken::Header {
            kid: Some("k1".into()),
            ..jsonwebtoken::Header::new(Algorithm::HS256)
        },
        &claims(issuer, &acme, json!({tenant_claim: acme})),
        &jsonwebtoken::EncodingKey::from_secret(&public),
    )
    .unwrap();
    let response = app
        .v1(Method::GET, "/v1/products", &confused)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_without_a_restart_and_a_provider_outage_costs_nothing_known() {
    let acme = testkit::unique_name("t");
    let client = || Client {
        id: "svc",
        claims: json!({"org_id": acme, "roles": ["member"]}),
    };
    let mut provider = Provider::start(&[("k1", "rsa_private.pem")], &[client()]);
    let issuer = provider.issuer.clone();
    // The simple configuration: two environment variables.
    let app = TestApp::spawn_with_settings(&[
        ("TENANTRY_OIDC_ISSUERS", issuer.as_str()),
        ("TENANTRY_OIDC_TENANT_CLAIM", "org_id"),
        ("TENANTRY_JWT_AUDIENCE", AUDIENCE),
        ("TENANTRY_OIDC_KEY_COOLDOWN_SECS", "2"),
    ])
    .await;
    app.create_tenant_with(json!({"id": acme, "name": "Acme"}))
        .await;
    let first = provider.token("svc").await;
    assert_eq!(
        status_of(&app, Method::GET, "/v1/products", &first).await,
        StatusCode::OK
    );
    let ready = readiness(&app).await;
    assert_eq!(
        ready["checks"][format!("keys.{issuer}")]["status"],
        "pass",
        "{ready}"
    );

    // Rotation: the provider now signs with k2 (k1 still published). No restart of Tenantry.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    provider
        .restart(&[("k2", "rsa2_private.pem"), ("k1", "rsa_private.pem")])
        .await;
    let rotated = provider.token("svc").await;
    assert_eq!(
        status_of(&app, Method::GET, "/v1/products", &rotated).await,
        StatusCode::OK
    );
    assert_eq!(provider.jwks_hits().await, 1, "one fetch for the new kid");

    // Tokens naming made-up kids, all at once: 401 each, and at most one more JWKS fetch.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let forged: Vec<String> = (0..20)
        .map(|i| {
            let mut all = claims(&issuer, &acme, json!({"org_id": acme}));
            all["jti"] = json!(i);
            sign(
                "rsa2_private.pem",
                Algorithm::RS256,
                &format!("random-{i}"),
                &all,
            )
        })
        .collect();
    let statuses = futures::future::join_all(
        forged
            .iter()
            .map(|token| status_of(&app, Method::GET, "/v1/products", token)),
    )
    .await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
    let hits = provider.jwks_hits().await;
    assert!(
        hits <= 2,
        "unknown kids caused {hits} JWKS fetches (1 before them)"
    );

    // The provider goes down: known keys keep working; an unknown kid is 401 (never 5xx).
    provider.stop();
    assert_eq!(
        status_of(&app, Method::GET, "/v1/products", &first).await,
        StatusCode::OK
    );
    assert_eq!(
        status_of(&app, Method::GET, "/v1/products", &rotated).await,
        StatusCode::OK
    );
    // Tokens never seen before (not in the verified-token cache), signed with the known keys.
    for (kid, key) in [("k1", "rsa_private.pem"), ("k2", "rsa2_private.pem")] {
        let fresh = sign(
            key,
            Algorithm::RS256,
            kid,
            &claims(&issuer, &acme, json!({"org_id": acme, "roles": ["viewer"]})),
        );
        assert_eq!(
            status_of(&app, Method::GET, "/v1/products", &fresh).await,
            StatusCode::OK,
            "{kid}"
        );
    }
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let unknown = sign(
        "ec_private.pem",
        Algorithm::ES256,
        "k9",
        &claims(&issuer, &acme, json!({"org_id": acme})),
    );
    assert_eq!(
        status_of(&app, Method::GET, "/v1/products", &unknown).await,
        StatusCode::UNAUTHORIZED
    );
    // That fetch failed: readiness says so (degraded, still 200), the keys are still used.
    assert_keys_stale(&readiness(&app).await, &issuer, "2 key(s) in use");
    let metrics = text_of(app.request(Method::GET, "/metrics")).await;
    assert!(
        metrics.contains(&format!("tenantry_oidc_keys{{issuer=\"{issuer}\"}} 2")),
        "{metrics}"
    );
    assert!(metrics.contains(&format!(
        "tenantry_oidc_keys_stale{{issuer=\"{issuer}\"}} 1"
    )));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenants_own_issuer_acts_for_that_tenant_only() {
    // The provider's token claims another tenant and the platform-admin role: both ignored.
    let provider = Provider::start(
        &[("sso", "ec_private.pem")],
        &[Client {
            id: "alice",
            claims: json!({"tid": "someone-else", "tenants": ["someone-else"], "roles": ["member", "platform-admin"]}),
        }],
    );
    let app = TestApp::spawn().await;
    let auth = json!({"issuer": provider.issuer, "audience": AUDIENCE});
    let acme = app.new_tenant_id();
    let created = app
        .create_tenant_with(json!({"id": acme, "name": "Acme", "auth": auth}))
        .await;
    assert_eq!(created["auth"]["issuer"], provider.issuer.as_str());
    let globex = app.create_tenant().await;
    let token = provider.token("alice").await;
    // No selector: the token's issuer names acme.
    assert_eq!(
        status_of(&app, Method::POST, "/v1/products", &token).await,
        StatusCode::CREATED
    );
    assert_eq!(tenant_of(&app, &token).await, acme.as_str());
    // A selector naming another tenant: 403 tenant_mismatch.
    let other = app
        .v1(Method::GET, "/v1/products", &token)
        .header("x-tenant-id", &globex)
        .send()
        .await
        .unwrap();
    problem(other, StatusCode::FORBIDDEN, "tenant_mismatch").await;
    // The issuer is acme's alone: 409 issuer_taken on create and on PATCH.
    let taken = app
        .admin(Method::POST, "/admin/tenants")
        .json(&json!({"id": app.new_tenant_id(), "name": "Copy", "auth": auth}))
        .send()
        .await
        .unwrap();
    problem(taken, StatusCode::CONFLICT, "issuer_taken").await;
    let patch = |id: &str, body: Value| {
        app.admin(Method::PATCH, &format!("/admin/tenants/{id}"))
            .json(&body)
            .send()
    };
    problem(
        patch(&globex, json!({"auth": auth})).await.unwrap(),
        StatusCode::CONFLICT,
        "issuer_taken",
    )
    .await;
    // Invalid settings are validation errors per field.
    let invalid = patch(
        &globex,
        json!({"auth": {"issuer": "http://login.example.com", "audience": ""}}),
    )
    .await
    .unwrap();
    let body = problem(invalid, StatusCode::BAD_REQUEST, "validation_failed").await;
    assert_eq!(
        crate::support::problem_errors(&body, "field"),
        ["auth.issuer"]
    );
    // A second instance on the same catalog has resolved the issuer to acme (and cached it).
    let other_instance = TestApp::spawn_on_catalog(&app.catalog_db).await;
    assert_eq!(tenant_of(&other_instance, &token).await, acme.as_str());
    // Removed from acme: its tokens are refused at once; given to globex: they act for globex.
    json_of(
        patch(&acme, json!({"auth": null})).await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        status_of(&app, Method::GET, "/v1/products", &token).await,
        StatusCode::UNAUTHORIZED
    );
    json_of(
        patch(&globex, json!({"auth": auth})).await.unwrap(),
        StatusCode::OK,
    )
    .await;
    // The token was issued before globex named this issuer, but after globex was created.
    assert_eq!(tenant_of(&app, &token).await, globex.as_str());
    // The other instance learns it from the catalog's change stream, without a restart.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let response = other_instance
            .v1(Method::GET, "/v1/tenant", &token)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap_or_default();
        if body["id"] == globex.as_str() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the other instance still answers {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Another audience is refused.
    let wrong_audience = sign(
        "ec_private.pem",
        Algorithm::ES256,
        "sso",
        &claims(&provider.issuer, &globex, json!({"aud": "other"})),
    );
    assert_eq!(
        status_of(&app, Method::GET, "/v1/products", &wrong_audience).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_starts_while_a_trusted_provider_is_down() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let issuer = format!("http://127.0.0.1:{port}");
    let app = TestApp::spawn_with_settings(&[("TENANTRY_OIDC_ISSUERS", issuer.as_str())]).await;
    // Its own tokens work; the provider's check fails (degraded: the instance stays in service).
    let (_, token) = app.tenant_with_token(&["viewer"]).await;
    assert_eq!(
        status_of(&app, Method::GET, "/v1/products", &token).await,
        StatusCode::OK
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let ready = loop {
        let ready = readiness(&app).await;
        if ready["checks"][format!("keys.{issuer}")]["detail"] != "no keys fetched yet" {
            break ready;
        }
        assert!(std::time::Instant::now() < deadline, "{ready}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_keys_stale(&ready, &issuer, "0 key(s) in use");
    // A token of that provider cannot be verified: 401, not 5xx.
    let token = sign(
        "rsa_private.pem",
        Algorithm::RS256,
        "k1",
        &claims(&issuer, "acme", json!({"tid": "acme"})),
    );
    assert_eq!(
        status_of(&app, Method::GET, "/v1/products", &token).await,
        StatusCode::UNAUTHORIZED
    );
}

/// A provider that accepts connections and never answers costs a request at most the fetch
/// timeout, once per cooldown: then the token is refused, and the next ones are refused at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_provider_costs_at_most_the_fetch_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    // Accepts and holds every connection, answering nothing.
    let stall = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let app = TestApp::spawn_with_settings(&[
        ("TENANTRY_OIDC_ISSUERS", issuer.as_str()),
        ("TENANTRY_OIDC_FETCH_TIMEOUT_SECS", "1"),
        ("TENANTRY_OIDC_KEY_COOLDOWN_SECS", "60"),
    ])
    .await;
    let token = sign(
        "rsa_private.pem",
        Algorithm::RS256,
        "k1",
        &claims(&issuer, "acme", json!({"tid": "acme"})),
    );
    for attempt in 0..3 {
        let started = std::time::Instant::now();
        let status = status_of(&app, Method::GET, "/v1/products", &token).await;
        let took = started.elapsed();
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
        assert!(
            took < Duration::from_secs(4),
            "attempt {attempt} took {took:?}"
        );
    }
    stall.abort();
}
