//! Incarnations: a tenant id deleted and created again is a new tenant. Nothing of the earlier
//! incarnation — documents, read-model rows, events, keys, tokens — reaches the later one, and
//! a deletion interrupted at any step by a crash is finished and leaves nothing behind.

use std::time::Duration;

use mongodb::bson::{Document, doc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::process::Fleet;
use crate::support::{TestApp, mongo};

/// The fresh incarnation has nothing: no products, orders, report rows, documents.
async fn assert_empty(app: &TestApp, id: &str, token: &str, round: usize) {
    for path in ["/v1/products", "/v1/orders", "/v1/reports/top-products"] {
        let body = app
            .call(Method::GET, path, token, None, &[])
            .await
            .expect(StatusCode::OK);
        assert_eq!(body["items"], json!([]), "round {round}: {path}: {body}");
    }
    let sales = app
        .call(
            Method::GET,
            "/v1/reports/sales?from=2026-06-01&to=2027-05-31",
            token,
            None,
            &[],
        )
        .await
        .expect(StatusCode::OK);
    let orders: i64 = sales["items"]
        .as_array()
        .map(|days| days.iter().map(|d| d["orders"].as_i64().unwrap_or(0)).sum())
        .unwrap_or(0);
    assert_eq!(orders, 0, "round {round}: sales of an earlier incarnation");
    let stats = app.stats(id).await;
    let documents = stats["documents"].as_object().cloned().unwrap_or_default();
    assert!(
        documents.values().all(|n| n == 0),
        "round {round}: documents of an earlier incarnation: {stats}"
    );
    assert_eq!(
        stats["projections"]["last_position"], 0,
        "round {round}: {stats}"
    );
}

/// Writes that are still in flight (commands committed, projections pending) when the delete
/// comes: `orders` orders on one product, no read in between.
async fn write_and_delete(app: &TestApp, id: &str, token: &str, orders: usize) {
    let (product, _) = app.product(token, "P", "Product", 100, 1_000).await;
    let pid = product["id"].as_str().unwrap().to_string();
    for i in 0..orders {
        app.order(token, &format!("c{i}"), &[(&pid, 1)])
            .await
            .expect(StatusCode::CREATED);
    }
    app.delete_tenant_and_wait(id).await;
}

async fn recreate_in_a_loop(app: &TestApp, rounds: usize, orders: usize) {
    let id = app.new_tenant_id();
    let mut databases = Vec::new();
    for round in 0..rounds {
        let tenant = app
            .create_tenant_with(json!({"id": id, "name": format!("Round {round}")}))
            .await;
        databases.push(tenant["database"].as_str().unwrap().to_string());
        let token = app.mint(&id, &["admin"]).await;
        assert_empty(app, &id, &token, round).await;
        write_and_delete(app, &id, &token, orders).await;
    }
    // Every incarnation had a database of its own, and none is left.
    databases.sort();
    databases.dedup();
    assert_eq!(databases.len(), rounds);
    let left = mongo().await.list_database_names().await.unwrap();
    for db in &databases {
        assert!(!left.contains(db), "{db} is left behind");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recreated_id_starts_empty_every_time() {
    let app = TestApp::spawn().await;
    recreate_in_a_loop(&app, 50, 1).await;
}

/// With many events still to project when the delete comes (the projector is behind).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recreated_id_starts_empty_even_behind_a_busy_projector() {
    let app = TestApp::spawn().await;
    recreate_in_a_loop(&app, 8, 25).await;
}

#[tokio::test]
async fn tokens_of_an_earlier_incarnation_are_revoked_even_when_cached() {
    let app = TestApp::spawn().await;
    let id = app.create_tenant().await;
    let minted = app.mint(&id, &["viewer"]).await;
    let external = app.token(&id, &["viewer"]);
    for token in [&minted, &external] {
        // Verified once: the verified-token cache holds it now.
        app.call(Method::GET, "/v1/tenant", token, None, &[])
            .await
            .expect(StatusCode::OK);
    }
    app.delete_tenant_and_wait(&id).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    app.create_tenant_with(json!({"id": id, "name": "Someone else"}))
        .await;
    for token in [&minted, &external] {
        let call = app.call(Method::GET, "/v1/tenant", token, None, &[]).await;
        assert!(call.header("www-authenticate").is_some());
        call.problem(StatusCode::UNAUTHORIZED, "token_revoked");
    }
    // A token without `tinc` or `iat` cannot be placed in time: refused as well.
    let timeless = app.sign(json!({"tid": id, "roles": ["viewer"], "iat": null}));
    app.call(Method::GET, "/v1/tenant", &timeless, None, &[])
        .await
        .problem(StatusCode::UNAUTHORIZED, "token_revoked");
    let fresh = app.mint(&id, &["viewer"]).await;
    let tenant = app
        .call(Method::GET, "/v1/tenant", &fresh, None, &[])
        .await
        .expect(StatusCode::OK);
    assert_eq!(tenant["name"], "Someone else");
}

/// `kill -9` (a crash point) at every step of a deletion: after a restart the deletion is
/// finished, nothing of the tenant is left, and a re-creation starts empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_killed_at_any_step_is_finished_after_a_restart() {
    for point in [
        "deletion.after_mark",
        "deletion.after_fence",
        "deletion.after_drop",
        "deletion.before_remove",
    ] {
        let fleet = Fleet::new(&[("TENANTRY_LEASE_SECS", "2")]);
        let server = fleet
            .start_with("crashing", &[("TENANTRY_FAILPOINTS", point)])
            .await;
        let id = testkit::unique_name("t");
        let tenant = server
            .admin_json(
                Method::POST,
                "/admin/tenants",
                Some(json!({"id": id, "name": "Doomed"})),
            )
            .await
            .expect(StatusCode::CREATED);
        let database = tenant["database"].as_str().unwrap().to_string();
        let token = fleet.token(&id, &["admin"]);
        server
            .call(
                Method::POST,
                "/v1/products",
                &token,
                Some(json!({"sku": "S", "name": "Soon gone", "price_cents": 1})),
                &[],
            )
            .await
            .expect("an answer")
            .expect(StatusCode::CREATED);
        // The delete request itself may lose its answer: the process dies at `point`.
        let _ = server
            .admin(Method::DELETE, &format!("/admin/tenants/{id}"))
            .send()
            .await;
        assert!(
            server.wait_exit(Duration::from_secs(30)),
            "{point}: the process did not crash (log {})",
            server.log.display()
        );
        let record = mongo()
            .await
            .database(&fleet.catalog_db)
            .collection::<Document>("tenants")
            .find_one(doc! {"_id": &id})
            .await
            .unwrap();
        assert_eq!(
            record.as_ref().and_then(|r| r.get_str("status").ok()),
            Some("deleting"),
            "{point}: the record stays until the end"
        );
        // Restarted: the start-up finishes the deletion.
        let restarted = fleet.start("restarted").await;
        let mut gone = false;
        for _ in 0..300 {
            let status = restarted
                .admin(Method::GET, &format!("/admin/tenants/{id}"))
                .send()
                .await
                .unwrap()
                .status();
            if status == StatusCode::NOT_FOUND {
                gone = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            gone,
            "{point}: the deletion was not finished (log {})",
            restarted.log.display()
        );
        let databases = mongo().await.list_database_names().await.unwrap();
        assert!(
            !databases.contains(&database),
            "{point}: {database} is left"
        );
        let again = restarted
            .admin_json(
                Method::POST,
                "/admin/tenants",
                Some(json!({"id": id, "name": "New"})),
            )
            .await
            .expect(StatusCode::CREATED);
        assert_ne!(again["database"].as_str(), Some(database.as_str()));
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let token = fleet.token(&id, &["viewer"]);
        let products: Value = restarted
            .call(Method::GET, "/v1/products", &token, None, &[])
            .await
            .expect("an answer")
            .expect(StatusCode::OK);
        assert_eq!(products["items"], json!([]), "{point}");
    }
}
