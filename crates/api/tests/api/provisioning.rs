//! Provisioning is idempotent and resumable: a crash or a race leaves a state that the same
//! request completes.

use mongodb::bson::{Document, doc};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestApp, json_of, mongo, namespaces};

#[tokio::test]
async fn an_interrupted_provisioning_is_completed_by_a_retry() {
    let app = TestApp::spawn().await;
    let id = app.new_tenant_id();
    // State left by a crash after the catalog record and part of the database were written.
    let database = app.insert_tenant_record(&id, "provisioning").await;
    let client = mongo().await;
    client
        .database(&database)
        .create_collection("products")
        .await
        .unwrap();

    let retry = app
        .admin(Method::POST, "/admin/tenants")
        .json(&json!({"id": id, "name": format!("Raw {id}")}))
        .send()
        .await
        .unwrap();
    let tenant = json_of(retry, StatusCode::CREATED).await;
    assert_eq!(tenant["status"], "active");
    assert_eq!(
        tenant["schema_version"],
        tenantry_api::platform::schema().latest_version()
    );
    assert_eq!(tenant["database"], database.as_str());
    let names = client
        .database(&database)
        .list_collection_names()
        .await
        .unwrap();
    assert!(names.contains(&"outbox".to_string()), "{names:?}");
    let token = app.token(&id, &["viewer"]);
    app.call(Method::GET, "/v1/tenant", &token, None, &[])
        .await
        .expect(StatusCode::OK);
}

#[tokio::test]
async fn concurrent_creates_of_one_tenant_agree() {
    let app = TestApp::spawn().await;
    let id = app.new_tenant_id();
    let body = json!({"id": id, "name": "Racy"});
    let requests = (0..6).map(|_| app.admin(Method::POST, "/admin/tenants").json(&body).send());
    let responses = futures::future::join_all(requests).await;
    let mut created = 0;
    for response in responses {
        let response = response.unwrap();
        let status = response.status();
        assert!(
            status == StatusCode::CREATED || status == StatusCode::OK,
            "{status}"
        );
        created += usize::from(status == StatusCode::CREATED);
        let tenant: serde_json::Value = response.json().await.unwrap();
        assert_eq!(tenant["status"], "active");
    }
    assert!(created >= 1);
    let count = mongo()
        .await
        .database(&app.catalog_db)
        .collection::<Document>("tenants")
        .count_documents(doc! {"_id": &id})
        .await
        .unwrap();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn a_domain_conflict_at_creation_leaves_nothing_behind() {
    let app = TestApp::spawn().await;
    let first = app.new_tenant_id();
    app.create_tenant_with(
        json!({"id": first, "name": "One", "domains": ["dup.provision.example"]}),
    )
    .await;
    let second = app.new_tenant_id();
    let body = json!({"id": second, "name": "Two", "domains": ["free.provision.example", "dup.provision.example"]});
    let response = app
        .admin(Method::POST, "/admin/tenants")
        .json(&body)
        .send()
        .await
        .unwrap();
    crate::support::problem(response, StatusCode::CONFLICT, "domain_taken").await;
    let gone = app
        .admin(Method::GET, &format!("/admin/tenants/{second}"))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    // The domain it briefly claimed is free again.
    let third = app.new_tenant_id();
    app.create_tenant_with(
        json!({"id": third, "name": "Three", "domains": ["free.provision.example"]}),
    )
    .await;
}

/// What one tenant costs a cluster in namespaces (collections and indexes, `_id` included: what
/// MongoDB Atlas budgets per cluster), counted in a provisioned tenant's database, is the figure
/// the README states.
#[tokio::test]
async fn a_tenant_costs_the_namespaces_the_readme_states() {
    let app = TestApp::spawn().await;
    let id = app.create_tenant().await;
    let database = mongo().await.database(&app.database_of(&id).await);
    let namespaces = namespaces(&database).await;
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let stated = format!("**{namespaces} namespaces per tenant**");
    assert!(
        readme.contains(&stated),
        "the README does not say {stated} (a provisioned tenant has {namespaces})"
    );
}

/// The write model and the outbox carry validators: a malformed document written behind the
/// code's back (a negative stock, an event without a type) is refused by the database.
#[tokio::test]
async fn the_write_model_refuses_malformed_documents() {
    let app = TestApp::spawn().await;
    let id = app.create_tenant().await;
    let database = mongo().await.database(&app.database_of(&id).await);
    let now = mongodb::bson::DateTime::now();
    let product = |stock: i64| {
        doc! {"_id": format!("p{stock}"), "sku": format!("S{stock}"), "name": "N", "price_cents": 1_i64,
        "stock": stock, "version": 1_i64, "created_at": now, "updated_at": now}
    };
    let products = database.collection::<Document>("products");
    products
        .insert_one(product(3))
        .await
        .expect("a well-formed product");
    let refused = products.insert_one(product(-1)).await.unwrap_err();
    assert!(
        refused.to_string().contains("121")
            || refused.to_string().to_lowercase().contains("validation"),
        "{refused}"
    );
    let decrement = products
        .update_one(doc! {"_id": "p3"}, doc! {"$inc": {"stock": -4_i64}})
        .await;
    assert!(decrement.is_err(), "stock below zero was stored");
    let event = doc! {"_id": 1_i64, "payload": {}, "occurred_at": now};
    let outbox = database.collection::<Document>("outbox");
    assert!(
        outbox.insert_one(event).await.is_err(),
        "an event without a type was stored"
    );
}
