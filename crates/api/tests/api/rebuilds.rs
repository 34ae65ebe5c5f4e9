//! Blue-green rebuilds under load, projection lag that shows a stuck projector, and read
//! models repaired after the database lost events they had already applied.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use mongodb::bson::{Document, doc};
use reqwest::{Method, StatusCode};

use crate::support::{TestApp, mongo};

/// Queries keep answering complete read models while rebuilds run and orders keep coming.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rebuild_never_shows_an_empty_or_partial_read_model() {
    let app = Arc::new(TestApp::spawn().await);
    let (id, token) = app.tenant_with_token(&["admin"]).await;
    const PRODUCTS: usize = 30;
    let mut last = 0;
    let mut first = String::new();
    for i in 0..PRODUCTS {
        let (p, position) = app
            .product(
                &token,
                &format!("SKU{i}"),
                &format!("Product {i}"),
                100,
                1_000,
            )
            .await;
        if i == 0 {
            first = p["id"].as_str().unwrap().to_string();
        }
        last = position;
    }
    app.call(
        Method::GET,
        "/v1/products?limit=200",
        &token,
        None,
        &[("x-min-position", &last.to_string())],
    )
    .await
    .expect(StatusCode::OK);
    let done = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicUsize::new(0));
    let mut readers = Vec::new();
    for _ in 0..3 {
        let (app, token, done, reads) = (app.clone(), token.clone(), done.clone(), reads.clone());
        readers.push(tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                let page = app
                    .call(Method::GET, "/v1/products?limit=200", &token, None, &[])
                    .await
                    .expect(StatusCode::OK);
                let n = page["items"].as_array().map_or(0, Vec::len);
                assert_eq!(n, PRODUCTS, "a query saw {n} of {PRODUCTS} products");
                reads.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let writer = {
        let (app, token, first) = (app.clone(), token.clone(), first.clone());
        tokio::spawn(async move {
            let mut last = 0;
            for i in 0..20 {
                last = app
                    .order(&token, &format!("c{i}"), &[(&first, 1)])
                    .await
                    .position();
            }
            last
        })
    };
    for generation in 1..=2 {
        let rebuilt = app
            .admin_json(
                Method::POST,
                &format!("/admin/tenants/{id}/projections/rebuild"),
                None,
            )
            .await
            .expect(StatusCode::OK);
        assert_eq!(rebuilt["generation"], generation, "{rebuilt}");
    }
    let last_order = writer.await.unwrap();
    done.store(true, Ordering::Relaxed);
    for reader in readers {
        reader.await.unwrap();
    }
    assert!(reads.load(Ordering::Relaxed) > 0);
    // Every order is in the new generation, once.
    let orders = app
        .call(
            Method::GET,
            "/v1/orders?limit=200",
            &token,
            None,
            &[("x-min-position", &last_order.to_string())],
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(orders["items"].as_array().map(Vec::len), Some(20));
    let stock = app
        .call(
            Method::GET,
            &format!("/v1/products/{first}"),
            &token,
            None,
            &[("x-min-position", &last_order.to_string())],
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(stock["stock"], 1_000 - 20);
    assert_eq!(app.stats(&id).await["projections"]["generation"], 2);
    // A second rebuild while one runs is refused.
    let database = mongo().await.database(&app.database_of(&id).await);
    database
        .collection::<Document>("_meta")
        .insert_one(doc! {"_id": "rebuild", "owner": "someone", "expires_at": mongodb::bson::DateTime::from_millis(mongodb::bson::DateTime::now().timestamp_millis() + 60_000)})
        .await
        .unwrap();
    let busy = app
        .admin(
            Method::POST,
            &format!("/admin/tenants/{id}/projections/rebuild"),
        )
        .send()
        .await
        .unwrap();
    crate::support::problem(busy, StatusCode::CONFLICT, "rebuild_in_progress").await;
}

/// The lag metric grows while the projector cannot apply (a transaction holds its fence, as a
/// crashed writer's would), and falls back once it can.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_projector_shows_as_growing_lag() {
    let app = TestApp::spawn_with(|c| c.projection_wait = Duration::from_millis(20000)).await;
    let (id, token) = app.tenant_with_token(&["admin"]).await;
    let (_, first) = app.product(&token, "P", "P", 1, 100).await;
    app.call(
        Method::GET,
        "/v1/products",
        &token,
        None,
        &[("x-min-position", &first.to_string())],
    )
    .await
    .expect(StatusCode::OK);
    // Hold the projector's fence in an open transaction.
    let client = mongo().await;
    let meta = client
        .database(&app.database_of(&id).await)
        .collection::<Document>("_meta");
    let mut holder = client.start_session().await.unwrap();
    holder.start_transaction().await.unwrap();
    meta.update_one(
        doc! {"_id": "projector"},
        doc! {"$set": {"held_by": "test"}},
    )
    .session(&mut holder)
    .await
    .unwrap();
    let mut last = 0;
    for i in 0..5 {
        last = app.product(&token, &format!("Q{i}"), "Q", 1, 1).await.1;
    }
    let lag = |text: &str, name: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(&format!("{name}{{cluster=\"default\"}}")))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    let scrape = || async {
        app.request(Method::GET, "/metrics")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = scrape().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after = scrape().await;
    let (s1, s2) = (
        lag(&before, "tenantry_projection_lag_seconds"),
        lag(&after, "tenantry_projection_lag_seconds"),
    );
    assert!(s2 > s1 && s2 >= 1.5, "lag did not grow: {s1} then {s2}");
    assert!(
        lag(&after, "tenantry_projection_lag_events") >= 5.0,
        "{after}"
    );
    holder.abort_transaction().await.unwrap();
    app.call(
        Method::GET,
        "/v1/products",
        &token,
        None,
        &[("x-min-position", &last.to_string())],
    )
    .await
    .expect(StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let recovered = scrape().await;
    assert_eq!(
        lag(&recovered, "tenantry_projection_lag_events"),
        0.0,
        "{recovered}"
    );
}

/// The database lost acknowledged events the read models had applied (a checkpoint is now
/// beyond the outbox): the projector notices, rebuilds from what the outbox holds, and later
/// events are not skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_models_ahead_of_the_outbox_are_rebuilt() {
    let app = TestApp::spawn_with(|c| c.projection_wait = Duration::from_millis(20000)).await;
    let (id, token) = app.tenant_with_token(&["admin"]).await;
    let (kept, _) = app.product(&token, "KEPT", "Kept", 1, 10).await;
    let (_, last) = app.product(&token, "LOST", "Lost", 1, 10).await;
    app.call(
        Method::GET,
        "/v1/products",
        &token,
        None,
        &[("x-min-position", &last.to_string())],
    )
    .await
    .expect(StatusCode::OK);
    // Lose the last event, as a database that acknowledged it before a crash may.
    let db = mongo().await.database(&app.database_of(&id).await);
    db.collection::<Document>("outbox")
        .delete_one(doc! {"_id": last})
        .await
        .unwrap();
    db.collection::<Document>("products")
        .delete_one(doc! {"sku": "LOST"})
        .await
        .unwrap();
    db.collection::<Document>("_meta")
        .update_one(doc! {"_id": "outbox"}, doc! {"$inc": {"position": -1_i64}})
        .await
        .unwrap();
    // The next write takes the lost position again; the projector finds its checkpoints ahead.
    let (_, again) = app.product(&token, "NEW", "New", 1, 10).await;
    assert_eq!(again, last);
    let mut skus = Vec::new();
    for _ in 0..100 {
        let page = app
            .call(
                Method::GET,
                "/v1/products",
                &token,
                None,
                &[("x-min-position", &again.to_string())],
            )
            .await
            .expect(StatusCode::OK);
        skus = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["sku"].as_str().unwrap().to_string())
            .collect();
        skus.sort();
        if skus == ["KEPT", "NEW"] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        skus,
        ["KEPT", "NEW"],
        "the read model still shows the lost event"
    );
    assert!(app.stats(&id).await["projections"]["generation"].as_u64() >= Some(1));
    assert_eq!(kept["sku"], "KEPT");
}

/// An instance that has not read a tenant's pointer yet reads the tenant's own generation: the
/// query it runs on its guess while the pointer is read is dropped when the guess is wrong, for
/// a rebuilt tenant after a plain one and for a plain one after a rebuilt one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_read_on_a_fresh_instance_finds_the_tenants_own_generation() {
    let app = TestApp::spawn().await;
    let (rebuilt, rebuilt_token) = app.tenant_with_token(&["admin"]).await;
    let (plain, plain_token) = app.tenant_with_token(&["admin"]).await;
    let (product, at) = app.product(&rebuilt_token, "R1", "Rebuilt", 100, 5).await;
    app.products_at(&rebuilt_token, at).await;
    let (plain_product, at) = app.product(&plain_token, "P1", "Plain", 100, 5).await;
    app.products_at(&plain_token, at).await;
    let switched = app
        .admin_json(
            Method::POST,
            &format!("/admin/tenants/{rebuilt}/projections/rebuild"),
            None,
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(switched["generation"], 1, "{switched}");
    // The retired generation 0 is kept for a grace period; make it tell itself apart.
    let retired = mongo()
        .await
        .database(&app.database_of(&rebuilt).await)
        .collection::<Document>("product_list");
    let marked = retired
        .update_one(
            doc! {"_id": product["id"].as_str().unwrap()},
            doc! {"$set": {"name": "retired generation"}},
        )
        .await
        .unwrap();
    assert_eq!(marked.matched_count, 1);

    let fresh = TestApp::spawn_on_catalog(&app.catalog_db).await;
    let get = |id: &str, token: String| {
        let fresh = &fresh;
        let path = format!("/v1/products/{id}");
        async move {
            fresh
                .call(Method::GET, &path, &token, None, &[])
                .await
                .expect(StatusCode::OK)
        }
    };
    // First guess 0, live 1; then guess 1 (the last pointer read), live 0.
    let first = get(
        product["id"].as_str().unwrap(),
        fresh.token(&rebuilt, &["admin"]),
    )
    .await;
    assert_eq!(first["name"], "Rebuilt", "{first}");
    let second = get(
        plain_product["id"].as_str().unwrap(),
        fresh.token(&plain, &["admin"]),
    )
    .await;
    assert_eq!(second["name"], "Plain", "{second}");
}
