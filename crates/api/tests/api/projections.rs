//! The projector: read-your-writes, lag, crash safety (resume from checkpoints equals a rebuild),
//! poison events, the read-model migration and the indexes behind every list.

use std::time::Duration;

use futures::TryStreamExt;
use mongodb::bson::{Document, doc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, all_documents, mongo, unapply};

const READ_MODELS: [&str; 4] = ["product_list", "order_list", "sales", "customer_list"];

/// Every live read model of a tenant database (in the generation queries read).
async fn snapshot(database: &str) -> Vec<Vec<Document>> {
    let db = mongo().await.database(database);
    let generation = cqrs::read_models::live_generation(&db).await.unwrap();
    let mut all = Vec::new();
    for name in READ_MODELS {
        let physical = cqrs::read_models::collection_name(name, generation);
        all.push(all_documents(&db, &physical).await);
    }
    all
}

/// Some activity: products, orders, an update, a cancellation.
async fn activity(app: &TestApp, token: &str, round: &str) -> i64 {
    let (a, _) = app
        .product(token, &format!("A{round}"), "Alpha", 100, 50)
        .await;
    let (b, _) = app
        .product(token, &format!("B{round}"), "Beta", 250, 50)
        .await;
    let (a, b) = (
        a["id"].as_str().unwrap().to_string(),
        b["id"].as_str().unwrap().to_string(),
    );
    let mut last = 0;
    for i in 0..6 {
        let order = app
            .order(token, &format!("c{}", i % 2), &[(&a, 1 + i), (&b, 1)])
            .await
            .expect(StatusCode::CREATED);
        if i % 3 == 0 {
            last = app
                .call(
                    Method::POST,
                    &format!("/v1/orders/{}/cancel", order["id"].as_str().unwrap()),
                    token,
                    None,
                    &[],
                )
                .await
                .position();
        }
    }
    let update = app
        .call(
            Method::PATCH,
            &format!("/v1/products/{b}"),
            token,
            Some(json!({"name": "Beta 2"})),
            &[],
        )
        .await;
    last.max(update.position())
}

/// A batch moves every projection's checkpoint with one write: they share one `_meta` document.
#[tokio::test]
async fn every_checkpoint_is_kept_in_one_document() {
    let app = TestApp::spawn().await;
    let (tenant, token) = app.tenant_with_token(&["member"]).await;
    let last = activity(&app, &token, "1").await;
    app.call(
        Method::GET,
        "/v1/orders",
        &token,
        None,
        &[("x-min-position", &last.to_string())],
    )
    .await
    .expect(StatusCode::OK);
    let db = mongo().await.database(&app.database_of(&tenant).await);
    let checkpoints: Vec<Document> = db
        .collection::<Document>("_meta")
        .find(doc! {"_id": {"$regex": "^checkpoint:"}})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(checkpoints.len(), 1, "{checkpoints:?}");
    assert_eq!(checkpoints[0].get_str("_id"), Ok("checkpoint:*"));
    let positions = checkpoints[0].get_document("positions").unwrap();
    assert_eq!(positions.len(), READ_MODELS.len(), "{positions}");
    for (name, at) in positions {
        let at = at.as_document().unwrap();
        assert_eq!(at.get_i64("position"), Ok(last), "{name}: {at}");
        assert!(at.get_str("event").is_ok_and(|id| !id.is_empty()), "{at}");
    }
}

#[tokio::test]
async fn a_query_waits_for_its_position_or_answers_503() {
    let app = TestApp::spawn_with(|c| {
        c.projector = false;
        c.projection_wait = Duration::from_millis(300);
    })
    .await;
    let (_, token) = app.tenant_with_token(&["member"]).await;
    let (_, position) = app.product(&token, "LAG", "Lagging", 1, 1).await;
    let call = app
        .call(
            Method::GET,
            "/v1/products",
            &token,
            None,
            &[("x-min-position", &position.to_string())],
        )
        .await;
    assert!(call.header("retry-after").is_some());
    call.problem(StatusCode::SERVICE_UNAVAILABLE, "projection_lagging");
    // Without the header the (stale) read model answers.
    let stale = app
        .call(Method::GET, "/v1/products", &token, None, &[])
        .await
        .expect(StatusCode::OK);
    assert!(stale["items"].as_array().unwrap().is_empty());
    app.call(
        Method::GET,
        "/v1/products",
        &token,
        None,
        &[("x-min-position", "-1")],
    )
    .await
    .problem(StatusCode::BAD_REQUEST, "validation_failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_projector_resumes_and_equals_a_rebuild() {
    // Instance one writes with its projector stopped mid-stream...
    let writer = TestApp::spawn_with(|c| c.projector = false).await;
    let (tenant, token) = writer.tenant_with_token(&["member"]).await;
    let half = activity(&writer, &token, "1").await;
    // ...a projector runs for a while, then instance one writes more with none running.
    {
        let projecting = TestApp::spawn_on_catalog(&writer.catalog_db).await;
        let t = projecting.token(&tenant, &["viewer"]);
        projecting
            .call(
                Method::GET,
                "/v1/products",
                &t,
                None,
                &[("x-min-position", &half.to_string())],
            )
            .await
            .expect(StatusCode::OK);
    }
    let last = activity(&writer, &token, "2").await;
    let database = writer.database_of(&tenant).await;
    let before = snapshot(&database).await;
    // A new instance resumes from the checkpoints.
    let resumed = TestApp::spawn_on_catalog(&writer.catalog_db).await;
    let t = resumed.token(&tenant, &["viewer"]);
    resumed
        .call(
            Method::GET,
            "/v1/orders",
            &t,
            None,
            &[("x-min-position", &last.to_string())],
        )
        .await
        .expect(StatusCode::OK);
    let caught_up = snapshot(&database).await;
    assert_ne!(before, caught_up, "the second half was projected on resume");
    // Rebuilding from the outbox gives the same read models.
    let rebuilt = resumed
        .admin(
            Method::POST,
            &format!("/admin/tenants/{tenant}/projections/rebuild"),
        )
        .send()
        .await
        .unwrap();
    let report: Value = rebuilt.json().await.unwrap();
    assert_eq!(report["events_applied"], last, "{report}");
    assert_eq!(report["dead_letters"], 0);
    assert_eq!(report["generation"], 1, "{report}");
    assert_eq!(snapshot(&database).await, caught_up);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_event_is_dead_lettered_and_other_tenants_keep_flowing() {
    let app = TestApp::spawn_with(|c| c.projection_wait = Duration::from_millis(5000)).await;
    let (a, a_token) = app.tenant_with_token(&["member"]).await;
    let (_, b_token) = app.tenant_with_token(&["member"]).await;
    let (_, first) = app.product(&a_token, "OK", "Fine", 1, 1).await;
    // A malformed event at A's next position, as a buggy writer might leave it.
    let db = mongo().await.database(&app.database_of(&a).await);
    db.collection::<Document>("_meta")
        .update_one(doc! {"_id": "outbox"}, doc! {"$inc": {"position": 1_i64}})
        .await
        .unwrap();
    let poison = doc! {"_id": first + 1, "type": "order.placed", "payload": {"garbage": true}, "occurred_at": mongodb::bson::DateTime::now(), "correlation_id": "test", "actor": "test"};
    db.collection::<Document>("outbox")
        .insert_one(poison)
        .await
        .unwrap();
    // B is unaffected; A's later events still flow.
    let (_, b_pos) = app.product(&b_token, "B1", "B product", 1, 1).await;
    let started = std::time::Instant::now();
    app.call(
        Method::GET,
        "/v1/products",
        &b_token,
        None,
        &[("x-min-position", &b_pos.to_string())],
    )
    .await
    .expect(StatusCode::OK);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "tenant B was delayed"
    );
    let (_, a_pos) = app
        .product(&a_token, "LATER", "After the poison", 1, 1)
        .await;
    let items = app
        .call(
            Method::GET,
            "/v1/products",
            &a_token,
            None,
            &[("x-min-position", &a_pos.to_string())],
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(items["items"].as_array().unwrap().len(), 2);
    // Reported: dead letters in the tenant's stats, one per projection that reads order events.
    let stats: Value = app
        .admin_json(Method::GET, &format!("/admin/tenants/{a}/stats"), None)
        .await
        .body;
    let dead = stats["projections"]["dead_letters"].as_u64().unwrap();
    assert!(dead >= 1, "{stats}");
    assert_eq!(stats["projections"]["lag"], 0, "{stats}");
    let letters: Vec<Document> = db
        .collection::<Document>("_meta")
        .find(doc! {"_id": {"$regex": "^dead_letter:"}})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(letters.len() as u64, dead);
    assert!(
        letters
            .iter()
            .all(|l| l.get_i64("position") == Ok(first + 1))
    );
    assert_eq!(app.state.projector.counters().dead_letters, dead);
}

#[tokio::test]
async fn the_read_model_migration_upgrades_existing_tenants() {
    let app = TestApp::spawn().await;
    let latest = tenantry_api::platform::schema().latest_version();
    let tenant = app.create_tenant().await;
    // Make it look like a tenant from before the read-model migration.
    let db = mongo().await.database(&app.database_of(&tenant).await);
    unapply(&db, &commerce::schema::COMPONENT, "read_models").await;
    for name in READ_MODELS {
        db.collection::<Document>(name).drop().await.unwrap();
    }
    app.set_schema_version(&tenant, latest - 1).await;
    let report: Value = app
        .admin_json(Method::POST, "/admin/migrations", None)
        .await
        .body;
    let outcome = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["tenant_id"] == tenant.as_str())
        .cloned()
        .unwrap();
    assert_eq!(
        (
            outcome["from_version"].as_u64(),
            outcome["to_version"].as_u64()
        ),
        (Some(u64::from(latest - 1)), Some(u64::from(latest))),
        "{report}"
    );
    let names = db.list_collection_names().await.unwrap();
    for name in READ_MODELS {
        assert!(names.iter().any(|n| n == name), "{name} missing");
    }
    let tenant_view: Value = app
        .admin_json(Method::GET, &format!("/admin/tenants/{tenant}"), None)
        .await
        .body;
    assert_eq!(tenant_view["schema_version"], latest);
}

fn stages(plan: &mongodb::bson::Bson, out: &mut Vec<String>) {
    match plan {
        mongodb::bson::Bson::Document(d) => {
            if let Ok(stage) = d.get_str("stage") {
                out.push(stage.to_string());
            }
            for (_, v) in d {
                stages(v, out);
            }
        }
        mongodb::bson::Bson::Array(items) => items.iter().for_each(|i| stages(i, out)),
        _ => {}
    }
}

/// Every list filter and sort of the query side runs on an index (no collection scan).
#[tokio::test]
async fn every_list_query_uses_an_index() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant().await;
    let db = mongo().await.database(&app.database_of(&tenant).await);
    let range = doc! {"$gte": "ap", "$lt": "ap\u{10FFFF}"};
    let queries: Vec<(&str, Document, Document)> = vec![
        ("product_list", doc! {}, doc! {"_id": 1}),
        ("product_list", doc! {"_id": {"$gt": "0"}}, doc! {"_id": 1}),
        (
            "product_list",
            doc! {"$or": [{"name_lower": range.clone()}, {"sku_lower": range.clone()}]},
            doc! {"_id": 1},
        ),
        (
            "product_list",
            doc! {"price_cents": {"$gte": 1, "$lte": 5}},
            doc! {"_id": 1},
        ),
        ("order_list", doc! {"status": "placed"}, doc! {"_id": 1}),
        (
            "order_list",
            doc! {"customer_id": "c", "status": "placed"},
            doc! {"_id": 1},
        ),
        ("order_list", doc! {"customer_id": "c"}, doc! {"_id": 1}),
        (
            "customer_list",
            doc! {"name_lower": range.clone()},
            doc! {"_id": 1},
        ),
        (
            "sales",
            doc! {"_id": {"$gte": "day:2020-01-01", "$lte": "day:2020-02-01"}},
            doc! {"_id": 1},
        ),
        (
            "sales",
            doc! {"units_sold": {"$gt": 0}},
            doc! {"units_sold": -1, "_id": 1},
        ),
    ];
    for (collection, filter, sort) in queries {
        let explain = db
            .run_command(doc! {"explain": {"find": collection, "filter": filter.clone(), "sort": sort, "limit": 51}, "verbosity": "queryPlanner"})
            .await
            .unwrap();
        let plan = explain
            .get_document("queryPlanner")
            .and_then(|q| q.get_document("winningPlan"))
            .unwrap()
            .clone();
        let mut found = Vec::new();
        stages(&mongodb::bson::Bson::Document(plan), &mut found);
        assert!(
            found.iter().any(|s| s == "IXSCAN"),
            "{collection} {filter}: {found:?}"
        );
        assert!(
            !found.iter().any(|s| s == "COLLSCAN"),
            "{collection} {filter}: {found:?}"
        );
    }
}
