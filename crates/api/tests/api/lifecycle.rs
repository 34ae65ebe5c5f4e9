//! docs/API.md "Platform administration": the tenant lifecycle over the admin API.

use std::collections::HashSet;
use std::time::Duration;

use mongodb::bson::{Document, doc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, json_of, mongo, problem};

#[tokio::test]
async fn creating_a_tenant_provisions_its_database() {
    let app = TestApp::spawn().await;
    let id = app.new_tenant_id();
    let body =
        json!({"id": id, "name": "Acme", "plan": "pro", "domains": ["Shop.Acme-Test.example"]});
    let tenant = app.create_tenant_with(body.clone()).await;
    assert_eq!(tenant["id"], id.as_str());
    assert_eq!(tenant["status"], "active");
    assert_eq!(tenant["plan"], "pro");
    assert_eq!(tenant["cluster"], "default");
    assert_eq!(tenant["isolation"], "shared");
    let incarnation = tenant["incarnation"].as_str().unwrap();
    assert!(
        tenancy::Incarnation::parse(incarnation).is_some(),
        "{tenant}"
    );
    assert_eq!(tenant["database"], format!("t_{id}_{incarnation}"));
    assert_eq!(tenant["domains"], json!(["shop.acme-test.example"]));
    assert_eq!(
        tenant["schema_version"],
        tenantry_api::platform::schema().latest_version()
    );
    for field in ["created_at", "updated_at"] {
        let stamp = tenant[field].as_str().unwrap();
        assert!(
            stamp.ends_with('Z') && stamp.contains('T'),
            "{field}: {stamp}"
        );
    }
    // Its own database, with the migrated collections, indexes and ledger.
    let db = mongo().await.database(tenant["database"].as_str().unwrap());
    let names: HashSet<String> = db
        .list_collection_names()
        .await
        .unwrap()
        .into_iter()
        .collect();
    for expected in ["products", "orders", "outbox", "_meta"] {
        assert!(
            names.contains(expected),
            "{expected} missing from {names:?}"
        );
    }
    let indexes = db
        .collection::<Document>("products")
        .list_index_names()
        .await
        .unwrap();
    assert!(indexes.iter().any(|i| i.starts_with("sku")), "{indexes:?}");
    let ledger = db
        .collection::<Document>("_meta")
        .count_documents(doc! {"_id": {"$regex": "^migration:"}})
        .await
        .unwrap();
    assert_eq!(
        ledger,
        u64::from(tenantry_api::platform::schema().latest_version())
    );
    // The tenant database knows which tenant and incarnation it belongs to.
    let identity = db
        .collection::<Document>("_meta")
        .find_one(doc! {"_id": "tenant"})
        .await
        .unwrap()
        .expect("identity document");
    assert_eq!(identity.get_str("tenant_id").unwrap(), id);
    assert_eq!(identity.get_str("incarnation").unwrap(), incarnation);
    // The catalog holds only metadata: tenants, their domain and issuer claims, and the fleet's
    // registry and leases.
    let catalog = mongo()
        .await
        .database(&app.catalog_db)
        .list_collection_names()
        .await
        .unwrap();
    assert!(
        catalog
            .iter()
            .all(|c| ["tenants", "domains", "issuers", "instances", "leases"].contains(&c.as_str())),
        "{catalog:?}"
    );

    // Repeating the same request: 200 with the tenant; another body: 409.
    let again = app
        .admin(Method::POST, "/admin/tenants")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(again, StatusCode::OK).await["id"], id.as_str());
    let other = app
        .admin(Method::POST, "/admin/tenants")
        .json(&json!({"id": id, "name": "Other"}))
        .send()
        .await
        .unwrap();
    problem(other, StatusCode::CONFLICT, "tenant_exists").await;
}

#[tokio::test]
async fn invalid_and_reserved_ids_never_reach_a_database() {
    let app = TestApp::spawn().await;
    let client = mongo().await;
    let before: HashSet<String> = client
        .list_database_names()
        .await
        .unwrap()
        .into_iter()
        .collect();
    for bad in [
        "ab",
        "Acme",
        "acme_eu",
        "-acme",
        "acme-",
        "admin",
        "catalog",
        "a.b.c",
        "t_$x",
        "x/../y",
        &"a".repeat(33),
    ] {
        let response = app
            .admin(Method::POST, "/admin/tenants")
            .json(&json!({"id": bad, "name": "x"}))
            .send()
            .await
            .unwrap();
        problem(response, StatusCode::BAD_REQUEST, "invalid_tenant_id").await;
        let path = format!("/admin/tenants/{}", urlencode(bad));
        let response = app.admin(Method::GET, &path).send().await.unwrap();
        assert!(
            matches!(
                response.status(),
                StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND
            ),
            "{bad}"
        );
    }
    let after: HashSet<String> = client
        .list_database_names()
        .await
        .unwrap()
        .into_iter()
        .collect();
    let new: Vec<&String> = after
        .difference(&before)
        .filter(|d| d.starts_with("t_") && !d.starts_with("t_t-"))
        .collect();
    assert!(new.is_empty(), "databases appeared: {new:?}");
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn an_unknown_cluster_is_a_validation_error() {
    let app = TestApp::spawn().await;
    let response = app
        .admin(Method::POST, "/admin/tenants")
        .json(&json!({"id": app.new_tenant_id(), "name": "x", "cluster": "mars"}))
        .send()
        .await
        .unwrap();
    let body = problem(response, StatusCode::BAD_REQUEST, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "cluster");
}

#[tokio::test]
async fn tenants_list_by_status_with_cursor_pagination() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(app.create_tenant().await);
    }
    ids.sort();
    app.admin_json(
        Method::POST,
        &format!("/admin/tenants/{}/suspend", ids[1]),
        None,
    )
    .await
    .expect(StatusCode::OK);

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = "/admin/tenants?limit=2".to_string();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = app
            .admin_json(Method::GET, &path, None)
            .await
            .expect(StatusCode::OK);
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|t| t["id"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, ids, "every tenant once, in order");

    let suspended = app
        .admin_json(Method::GET, "/admin/tenants?status=suspended", None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(suspended["items"].as_array().unwrap().len(), 1);
    assert_eq!(suspended["items"][0]["id"], ids[1].as_str());
    assert!(suspended["next_cursor"].is_null());

    for bad in [
        "/admin/tenants?limit=0",
        "/admin/tenants?limit=201",
        "/admin/tenants?limit=x",
        "/admin/tenants?status=gone",
        "/admin/tenants?cursor=garbage",
    ] {
        problem(
            app.admin(Method::GET, bad).send().await.unwrap(),
            StatusCode::BAD_REQUEST,
            "validation_failed",
        )
        .await;
    }
    // A cursor of another list (here: another status filter) is refused.
    let first = app
        .admin_json(Method::GET, "/admin/tenants?limit=1", None)
        .await
        .expect(StatusCode::OK);
    let foreign = format!(
        "/admin/tenants?status=active&cursor={}",
        first["next_cursor"].as_str().unwrap()
    );
    problem(
        app.admin(Method::GET, &foreign).send().await.unwrap(),
        StatusCode::BAD_REQUEST,
        "validation_failed",
    )
    .await;
}

#[tokio::test]
async fn get_and_patch_a_tenant() {
    let app = TestApp::spawn().await;
    let id = app.create_tenant().await;
    let got = app
        .admin_json(Method::GET, &format!("/admin/tenants/{id}"), None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(got["id"], id.as_str());
    let patch = json!({"name": "Renamed", "plan": "enterprise", "limits": {"max_concurrent_requests": 3}, "domains": ["a.example.org"]});
    let patched = app
        .admin_json(
            Method::PATCH,
            &format!("/admin/tenants/{id}"),
            Some(patch.clone()),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(patched["name"], "Renamed");
    assert_eq!(patched["plan"], "enterprise");
    assert_eq!(patched["limits"]["max_concurrent_requests"], 3);
    assert_eq!(patched["domains"], json!(["a.example.org"]));
    assert!(patched["updated_at"].as_str() >= got["updated_at"].as_str());

    // A custom domain of another tenant: 409 domain_taken; after release it can be claimed.
    let other = app.create_tenant().await;
    let taken = app
        .admin(Method::PATCH, &format!("/admin/tenants/{other}"))
        .json(&json!({"domains": ["a.example.org"]}))
        .send()
        .await
        .unwrap();
    problem(taken, StatusCode::CONFLICT, "domain_taken").await;
    app.admin_json(
        Method::PATCH,
        &format!("/admin/tenants/{id}"),
        Some(json!({"domains": []})),
    )
    .await
    .expect(StatusCode::OK);
    let claimed = app
        .admin(Method::PATCH, &format!("/admin/tenants/{other}"))
        .json(&json!({"domains": ["a.example.org"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_of(claimed, StatusCode::OK).await["domains"],
        json!(["a.example.org"])
    );

    let bad = app
        .admin(Method::PATCH, &format!("/admin/tenants/{id}"))
        .json(&json!({"limits": {"max_concurrent_requests": 0}, "status": "active"}))
        .send()
        .await
        .unwrap();
    let body = problem(bad, StatusCode::BAD_REQUEST, "validation_failed").await;
    assert_eq!(body["errors"].as_array().unwrap().len(), 2, "{body}");
    let missing = app
        .admin(
            Method::GET,
            &format!("/admin/tenants/{}", app.new_tenant_id()),
        )
        .send()
        .await
        .unwrap();
    problem(missing, StatusCode::NOT_FOUND, "tenant_not_found").await;
}

#[tokio::test]
async fn suspension_and_resumption_take_effect_on_the_next_request() {
    let app = TestApp::spawn().await;
    let id = app.create_tenant().await;
    let token = app.token(&id, &["viewer"]);
    app.call(Method::GET, "/v1/tenant", &token, None, &[])
        .await
        .expect(StatusCode::OK);
    let suspended = app
        .admin_json(Method::POST, &format!("/admin/tenants/{id}/suspend"), None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(suspended["status"], "suspended");
    problem(
        app.v1(Method::GET, "/v1/tenant", &token)
            .send()
            .await
            .unwrap(),
        StatusCode::FORBIDDEN,
        "tenant_suspended",
    )
    .await;
    let resumed = app
        .admin_json(Method::POST, &format!("/admin/tenants/{id}/resume"), None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(resumed["status"], "active");
    app.call(Method::GET, "/v1/tenant", &token, None, &[])
        .await
        .expect(StatusCode::OK);
}

#[tokio::test]
async fn suspension_reaches_every_instance() {
    let a = TestApp::spawn().await;
    let b = TestApp::spawn_on_catalog(&a.catalog_db).await;
    let id = a.create_tenant().await;
    // b caches the tenant as active...
    let b_token = b.token(&id, &["viewer"]);
    b.call(Method::GET, "/v1/tenant", &b_token, None, &[])
        .await
        .expect(StatusCode::OK);
    // ...a suspends it; b's change-stream watch drops its cache entry.
    a.admin_json(Method::POST, &format!("/admin/tenants/{id}/suspend"), None)
        .await
        .expect(StatusCode::OK);
    let mut status = StatusCode::OK;
    for _ in 0..50 {
        status = b
            .v1(Method::GET, "/v1/tenant", &b_token)
            .send()
            .await
            .unwrap()
            .status();
        if status == StatusCode::FORBIDDEN {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "instance b still serves a suspended tenant"
    );
}

#[tokio::test]
async fn deleting_a_tenant_drops_its_database() {
    let app = TestApp::spawn().await;
    let id = app.create_tenant().await;
    let database = app.database_of(&id).await;
    let token = app.token(&id, &["viewer"]);
    let deleted = app
        .admin_json(Method::DELETE, &format!("/admin/tenants/{id}"), None)
        .await
        .expect(StatusCode::ACCEPTED);
    assert_eq!(deleted["status"], "deleting");
    let mut gone = false;
    for _ in 0..100 {
        let response = app
            .admin(Method::GET, &format!("/admin/tenants/{id}"))
            .send()
            .await
            .unwrap();
        if response.status() == StatusCode::NOT_FOUND {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(gone, "tenant still in the catalog");
    let databases = mongo().await.list_database_names().await.unwrap();
    assert!(!databases.contains(&database), "database not dropped");
    problem(
        app.v1(Method::GET, "/v1/tenant", &token)
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
        "tenant_not_found",
    )
    .await;
    problem(
        app.admin(Method::DELETE, &format!("/admin/tenants/{id}"))
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
        "tenant_not_found",
    )
    .await;
}

#[tokio::test]
async fn minted_tokens_act_for_their_tenant() {
    let app = TestApp::spawn().await;
    let id = app.create_tenant().await;
    let minted = app
        .admin(Method::POST, &format!("/admin/tenants/{id}/tokens"))
        .json(&json!({"sub": "svc-1", "roles": ["member"], "ttl_seconds": 120}))
        .send()
        .await
        .unwrap();
    let minted = json_of(minted, StatusCode::CREATED).await;
    let token = minted["token"].as_str().unwrap();
    assert!(minted["expires_at"].as_str().unwrap().ends_with('Z'));
    let me = app
        .call(Method::GET, "/v1/tenant", token, None, &[])
        .await
        .expect(StatusCode::OK);
    assert_eq!(me["id"], id.as_str());
    assert_eq!(me["subject"], "svc-1");

    let bad = app
        .admin(Method::POST, &format!("/admin/tenants/{id}/tokens"))
        .json(&json!({"roles": ["root"], "ttl_seconds": 0}))
        .send()
        .await
        .unwrap();
    let body = problem(bad, StatusCode::BAD_REQUEST, "validation_failed").await;
    assert_eq!(body["errors"].as_array().unwrap().len(), 3, "{body}");
    let unknown = app
        .admin(
            Method::POST,
            &format!("/admin/tenants/{}/tokens", app.new_tenant_id()),
        )
        .json(&json!({"sub": "x", "roles": []}))
        .send()
        .await
        .unwrap();
    problem(unknown, StatusCode::NOT_FOUND, "tenant_not_found").await;
}

#[tokio::test]
async fn migrations_run_for_all_tenants_and_continue_past_failures() {
    let app = TestApp::spawn().await;
    let good = [app.create_tenant().await, app.create_tenant().await];
    // A tenant whose database name the server refuses: its migration fails.
    let broken = app.new_tenant_id();
    app.insert_tenant_record_in(&broken, "active", Some("bad/name"))
        .await;
    let report = app
        .admin_json(Method::POST, "/admin/migrations", None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(report["tenants"], 3, "{report}");
    assert_eq!(report["succeeded"], 2, "{report}");
    assert_eq!(report["failed"], 1, "{report}");
    let results = report["results"].as_array().unwrap();
    let by_id = |id: &str| {
        results
            .iter()
            .find(|r| r["tenant_id"] == id)
            .cloned()
            .unwrap_or(Value::Null)
    };
    for id in &good {
        assert_eq!(by_id(id)["ok"], true, "{report}");
        assert_eq!(
            by_id(id)["to_version"],
            tenantry_api::platform::schema().latest_version()
        );
    }
    assert_eq!(by_id(&broken)["ok"], false);
    assert!(by_id(&broken)["error"].is_string());
}

#[tokio::test]
async fn stats_report_requests_documents_and_pool_use() {
    let app = TestApp::spawn().await;
    let id = app.create_tenant().await;
    let token = app.token(&id, &["viewer"]);
    for _ in 0..3 {
        app.call(Method::GET, "/v1/tenant", &token, None, &[])
            .await
            .expect(StatusCode::OK);
    }
    let stats = app.stats(&id).await;
    assert_eq!(stats["tenant_id"], id.as_str());
    assert_eq!(stats["requests"], 3);
    assert_eq!(stats["budget"]["limit"], 16);
    assert_eq!(stats["connections"]["kind"], "shared");
    assert!(
        stats["connections"]["cluster_pool"]["open"]
            .as_i64()
            .unwrap()
            >= 1,
        "{stats}"
    );
    assert_eq!(stats["documents"]["products"], 0);
    assert!(
        stats["documents"].get("_meta").is_none(),
        "internal collections are not listed"
    );
}

#[tokio::test]
async fn a_tenant_over_its_request_rate_gets_429() {
    let app = TestApp::spawn().await;
    let (limited, calm) = (app.create_tenant().await, app.create_tenant().await);
    let patch = json!({"limits": {"requests_per_second": 3}});
    let patched = app
        .admin(Method::PATCH, &format!("/admin/tenants/{limited}"))
        .json(&patch)
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_of(patched, StatusCode::OK).await["limits"]["requests_per_second"],
        3
    );
    let token = app.token(&limited, &["viewer"]);
    let mut statuses = Vec::new();
    let mut refused = None;
    for _ in 0..10 {
        let response = app
            .v1(Method::GET, "/v1/tenant", &token)
            .send()
            .await
            .unwrap();
        statuses.push(response.status());
        if response.status() == StatusCode::TOO_MANY_REQUESTS && refused.is_none() {
            assert!(response.headers().contains_key("retry-after"));
            refused = Some(problem(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await);
        }
    }
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert!(
        (3..=4).contains(&ok),
        "a burst of ~3 then 429: {statuses:?}"
    );
    assert!(refused.is_some());
    // Other tenants are not affected.
    let other = app.token(&calm, &["viewer"]);
    for _ in 0..10 {
        app.call(Method::GET, "/v1/tenant", &other, None, &[])
            .await
            .expect(StatusCode::OK);
    }
}
