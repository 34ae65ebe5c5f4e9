//! Schema upgrades of live tenants: a tenant provisioned before the namespace cuts (idempotency
//! records and dead letters in collections of their own, the `sales_daily` and `product_sales`
//! projections, a `customers` collection, a price index) is migrated in place without losing
//! anything: its keyed requests still replay, its dead letters are still counted, its sales
//! are built again from its events, and it costs what a new tenant costs.

use futures::TryStreamExt;
use mongodb::bson::{DateTime, Document, doc};
use mongodb::{Database, IndexModel};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, mongo, namespaces, unapply};

/// Puts the tenant's idempotency records back where they were before: `idempotency_keys`,
/// keyed without the `_meta` prefix, expiring by `created_at`.
async fn idempotency_records_as_before(db: &Database) -> usize {
    let meta = db.collection::<Document>("_meta");
    let records: Vec<Document> = meta
        .find(doc! {"_id": {"$regex": "^idempotency:"}})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    for mut record in records.clone() {
        let id = record.get_str("_id").unwrap().to_string();
        meta.delete_one(doc! {"_id": &id}).await.unwrap();
        record.insert("_id", id.trim_start_matches("idempotency:"));
        record.remove("expires_at");
        db.collection::<Document>("idempotency_keys")
            .insert_one(record)
            .await
            .unwrap();
    }
    records.len()
}

/// Puts the live checkpoints back where they were before: one document per projection, none
/// for `missing` (a projection added by the upgrade).
async fn checkpoints_as_before(meta: &mongodb::Collection<Document>, missing: &str) {
    let shared = meta
        .find_one(doc! {"_id": "checkpoint:*"})
        .await
        .unwrap()
        .expect("the live checkpoints");
    let positions = shared.get_document("positions").unwrap();
    assert!(positions.contains_key(missing), "{shared}");
    // The old documents first: a batch in between takes the further of the two.
    for (name, at) in positions.iter().filter(|(name, _)| *name != missing) {
        let mut own = at.as_document().unwrap().clone();
        own.insert("_id", format!("checkpoint:{name}"));
        meta.insert_one(own).await.unwrap();
    }
    meta.delete_one(doc! {"_id": "checkpoint:*"}).await.unwrap();
}

#[tokio::test]
async fn a_tenant_from_before_the_namespace_cuts_is_upgraded_in_place() {
    let app = TestApp::spawn().await;
    let fresh = mongo()
        .await
        .database(&app.database_of(&app.create_tenant().await).await);
    let (tenant, token) = app.tenant_with_token(&["admin"]).await;
    let (pen, _) = app.product(&token, "PEN", "Pen", 150, 100).await;
    let order = json!({"customer": {"id": "c1", "name": "Ada"},
        "lines": [{"product_id": pen["id"], "qty": 2}]});
    let keyed = [("idempotency-key", "before-the-upgrade")];
    let placed = app
        .call(
            Method::POST,
            "/v1/orders",
            &token,
            Some(order.clone()),
            &keyed,
        )
        .await;
    let position = placed.position();
    let placed = placed.expect(StatusCode::CREATED);

    // Projected (so no batch is in flight while the layout is changed behind its back).
    let min = position.to_string();
    let at = [("x-min-position", min.as_str())];
    app.call(Method::GET, "/v1/orders", &token, None, &at)
        .await
        .expect(StatusCode::OK);

    // The layout of before, with the live read models' `sales` never built.
    let db = mongo().await.database(&app.database_of(&tenant).await);
    let meta = db.collection::<Document>("_meta");
    assert_eq!(idempotency_records_as_before(&db).await, 1);
    let letter = doc! {"projection": "order_list", "generation": 0, "position": position,
    "type": "order.placed", "payload": {}, "error": "from before", "at": DateTime::now()};
    db.collection::<Document>("_dead_letters")
        .insert_one(letter)
        .await
        .unwrap();
    db.collection::<Document>("sales").drop().await.unwrap();
    checkpoints_as_before(&meta, "sales").await;
    for (retired, stale) in [
        ("sales_daily", doc! {"_id": "2020-01-01", "orders": 99}),
        (
            "product_sales",
            doc! {"_id": pen["id"].as_str(), "units_sold": 99},
        ),
    ] {
        db.collection::<Document>(retired)
            .insert_one(stale)
            .await
            .unwrap();
        meta.insert_one(doc! {"_id": format!("checkpoint:{retired}"), "position": position})
            .await
            .unwrap();
    }
    db.collection::<Document>("customers")
        .insert_one(doc! {"_id": "c1", "name": "Ada", "created_at": DateTime::now()})
        .await
        .unwrap();
    let price = IndexModel::builder()
        .keys(doc! {"price_cents": 1, "_id": 1})
        .build();
    db.collection::<Document>("product_list")
        .create_index(price)
        .await
        .unwrap();
    unapply(&db, &cqrs::schema::COMPONENT, "metadata_in_meta").await;
    unapply(&db, &commerce::schema::COMPONENT, "fewer_namespaces").await;
    let latest = tenantry_api::platform::schema().latest_version();
    app.set_schema_version(&tenant, latest - 2).await;

    let report = app
        .admin_json(Method::POST, "/admin/migrations", None)
        .await
        .expect(StatusCode::OK);
    let outcome: &Value = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["tenant_id"] == tenant.as_str())
        .unwrap();
    assert_eq!(outcome["ok"], true, "{report}");
    assert_eq!(outcome["from_version"], latest - 2, "{report}");
    assert_eq!(outcome["to_version"], latest, "{report}");

    let names = db.list_collection_names().await.unwrap();
    for gone in [
        "idempotency_keys",
        "_dead_letters",
        "sales_daily",
        "product_sales",
        "customers",
    ] {
        assert!(!names.iter().any(|n| n == gone), "{gone} is still there");
    }
    assert_eq!(namespaces(&db).await, namespaces(&fresh).await);
    // The keyed request replays its first answer.
    let replayed = app
        .call(Method::POST, "/v1/orders", &token, Some(order), &keyed)
        .await;
    assert_eq!(replayed.position(), position);
    assert_eq!(replayed.expect(StatusCode::CREATED), placed);
    // The dead letter is counted.
    let stats = app.stats(&tenant).await;
    assert_eq!(stats["projections"]["dead_letters"], 1, "{stats}");
    // Sales are built from the events: the order's 2 pens, not the stale 99.
    let top = app
        .call(Method::GET, "/v1/reports/top-products", &token, None, &at)
        .await
        .expect(StatusCode::OK);
    assert_eq!(top["items"][0]["product_id"], pen["id"], "{top}");
    assert_eq!(top["items"][0]["units_sold"], 2, "{top}");
    // The next order moves every projection from where it was, old documents or not: counted
    // once everywhere.
    let next = json!({"customer": {"id": "c1", "name": "Ada"},
        "lines": [{"product_id": pen["id"], "qty": 3}]});
    let position = app
        .call(Method::POST, "/v1/orders", &token, Some(next), &[])
        .await
        .position()
        .to_string();
    let at = [("x-min-position", position.as_str())];
    let top = app
        .call(Method::GET, "/v1/reports/top-products", &token, None, &at)
        .await
        .expect(StatusCode::OK);
    assert_eq!(top["items"][0]["units_sold"], 5, "{top}");
    let orders = app
        .call(Method::GET, "/v1/orders", &token, None, &at)
        .await
        .expect(StatusCode::OK);
    assert_eq!(orders["items"].as_array().unwrap().len(), 2, "{orders}");
    // The customer was never created (its orders count all the same): its row, read directly.
    let customer = db
        .collection::<Document>("customer_list")
        .find_one(doc! {"_id": "c1"})
        .await
        .unwrap()
        .expect("the customer's row");
    assert_eq!(customer.get_i64("orders"), Ok(2), "{customer}");
}
