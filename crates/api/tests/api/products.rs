//! docs/API.md "Tenant API": products — commands, queries, optimistic concurrency, search, paging.

use std::collections::HashSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, problem_errors};

#[tokio::test]
async fn create_read_update_and_delete_a_product() {
    let app = TestApp::spawn().await;
    let (_, token) = app.tenant_with_token(&["admin"]).await;
    let created = app
        .call(
            Method::POST,
            "/v1/products",
            &token,
            Some(json!({"sku": "SKU-1", "name": "Widget", "price_cents": 1250})),
            &[],
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.header("etag"), Some("\"1\""));
    let position = created.position();
    assert!(position >= 1);
    let product = created.body;
    assert_eq!(product["stock"], 0, "stock defaults to 0");
    assert_eq!(product["version"], 1);
    assert_eq!(product["price_cents"], 1250);
    let id = product["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 36, "a UUID");

    // Read-your-writes through the read model.
    let min = position.to_string();
    let read = app
        .call(
            Method::GET,
            &format!("/v1/products/{id}"),
            &token,
            None,
            &[("x-min-position", &min)],
        )
        .await;
    assert_eq!(read.header("etag"), Some("\"1\""));
    assert_eq!(read.expect(StatusCode::OK), product);

    // PATCH with the current version, then with a stale one.
    let patched = app
        .call(
            Method::PATCH,
            &format!("/v1/products/{id}"),
            &token,
            Some(json!({"price_cents": 999, "stock": 5})),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(patched.header("etag"), Some("\"2\""));
    let position = patched.position();
    let body = patched.expect(StatusCode::OK);
    assert_eq!(
        (
            body["price_cents"].as_i64(),
            body["stock"].as_i64(),
            body["version"].as_i64()
        ),
        (Some(999), Some(5), Some(2))
    );
    let stale = app
        .call(
            Method::PATCH,
            &format!("/v1/products/{id}"),
            &token,
            Some(json!({"name": "X"})),
            &[("if-match", "\"1\"")],
        )
        .await;
    stale.problem(StatusCode::PRECONDITION_FAILED, "version_mismatch");
    let read = app
        .call(
            Method::GET,
            &format!("/v1/products/{id}"),
            &token,
            None,
            &[("x-min-position", &position.to_string())],
        )
        .await;
    assert_eq!(read.expect(StatusCode::OK)["price_cents"], 999);

    // DELETE: stale If-Match 412, then 204; gone from the read model.
    app.call(
        Method::DELETE,
        &format!("/v1/products/{id}"),
        &token,
        None,
        &[("if-match", "\"1\"")],
    )
    .await
    .problem(StatusCode::PRECONDITION_FAILED, "version_mismatch");
    let deleted = app
        .call(
            Method::DELETE,
            &format!("/v1/products/{id}"),
            &token,
            None,
            &[("if-match", "\"2\"")],
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let position = deleted.position().to_string();
    app.call(
        Method::GET,
        &format!("/v1/products/{id}"),
        &token,
        None,
        &[("x-min-position", &position)],
    )
    .await
    .problem(StatusCode::NOT_FOUND, "not_found");
    app.call(
        Method::PATCH,
        &format!("/v1/products/{id}"),
        &token,
        Some(json!({"name": "X"})),
        &[],
    )
    .await
    .problem(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn product_rules() {
    let app = TestApp::spawn().await;
    let (id, member) = app.tenant_with_token(&["member"]).await;
    let viewer = app.token(&id, &["viewer"]);
    app.product(&member, "DUP", "First", 100, 1).await;
    app.call(
        Method::POST,
        "/v1/products",
        &member,
        Some(json!({"sku": "DUP", "name": "Second", "price_cents": 1})),
        &[],
    )
    .await
    .problem(StatusCode::CONFLICT, "sku_taken");
    let invalid = app
        .call(
            Method::POST,
            "/v1/products",
            &member,
            Some(json!({"sku": "ok", "name": "", "price_cents": -1, "stock": -2})),
            &[],
        )
        .await;
    let body = invalid.problem(StatusCode::BAD_REQUEST, "validation_failed");
    let fields: HashSet<&str> = problem_errors(&body, "field").into_iter().collect();
    assert_eq!(fields, HashSet::from(["name", "price_cents", "stock"]));
    let wrong_types = app
        .call(
            Method::POST,
            "/v1/products",
            &member,
            Some(json!({"sku": 1, "name": "n", "price_cents": "10", "colour": "red"})),
            &[],
        )
        .await;
    let body = wrong_types.problem(StatusCode::BAD_REQUEST, "validation_failed");
    let fields: HashSet<&str> = problem_errors(&body, "field").into_iter().collect();
    assert_eq!(fields, HashSet::from(["sku", "price_cents", "colour"]));
    app.call(
        Method::POST,
        "/v1/products",
        &member,
        Some(json!({"sku": "a", "name": "n", "price_cents": 1.5})),
        &[],
    )
    .await
    .problem(StatusCode::BAD_REQUEST, "validation_failed");
    // Roles: viewers read only; deleting needs admin.
    app.call(
        Method::POST,
        "/v1/products",
        &viewer,
        Some(json!({"sku": "V", "name": "n", "price_cents": 1})),
        &[],
    )
    .await
    .problem(StatusCode::FORBIDDEN, "forbidden");
    let (p, _) = app.product(&member, "DEL", "Delete me", 1, 1).await;
    let path = format!("/v1/products/{}", p["id"].as_str().unwrap());
    app.call(Method::DELETE, &path, &member, None, &[])
        .await
        .problem(StatusCode::FORBIDDEN, "forbidden");
    app.call(Method::GET, "/v1/products", &viewer, None, &[])
        .await
        .expect(StatusCode::OK);
    app.call(Method::PATCH, &path, &member, Some(json!({})), &[])
        .await
        .problem(StatusCode::BAD_REQUEST, "validation_failed");
    app.call(
        Method::PATCH,
        &path,
        &member,
        Some(json!({"name": "x"})),
        &[("if-match", "nonsense")],
    )
    .await
    .problem(StatusCode::BAD_REQUEST, "validation_failed");
}

async fn list(app: &TestApp, token: &str, query: &str, min: i64) -> Vec<Value> {
    let path = format!("/v1/products?{query}");
    let body = app
        .call(
            Method::GET,
            &path,
            token,
            None,
            &[("x-min-position", &min.to_string())],
        )
        .await
        .expect(StatusCode::OK);
    body["items"].as_array().unwrap().clone()
}

fn skus(items: &[Value]) -> Vec<&str> {
    items.iter().map(|p| p["sku"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn search_is_a_case_insensitive_literal_prefix_with_price_bounds() {
    let app = TestApp::spawn().await;
    let (_, token) = app.tenant_with_token(&["member"]).await;
    let mut last = 0;
    for (sku, name, price) in [
        ("APL-1", "Apple juice", 300),
        ("APL-2", "apple pie", 500),
        ("BAN-1", "Banana", 100),
        ("X.Y", "a.*b literal", 700),
        ("ZZ-9", "Pineapple", 900),
    ] {
        last = app.product(&token, sku, name, price, 1).await.1;
    }
    assert_eq!(
        skus(&list(&app, &token, "q=apple", last).await),
        ["APL-1", "APL-2"],
        "prefix, not substring"
    );
    assert_eq!(
        skus(&list(&app, &token, "q=APPLE%20P", last).await),
        ["APL-2"]
    );
    assert_eq!(
        skus(&list(&app, &token, "q=apl-", last).await),
        ["APL-1", "APL-2"],
        "sku prefix"
    );
    assert_eq!(
        skus(&list(&app, &token, "q=a.*", last).await),
        ["X.Y"],
        "no regex"
    );
    assert!(
        list(&app, &token, "q=.*", last).await.is_empty(),
        "no regex"
    );
    assert_eq!(
        skus(&list(&app, &token, "min_price=300&max_price=700", last).await),
        ["APL-1", "APL-2", "X.Y"],
        "inclusive"
    );
    assert_eq!(
        skus(&list(&app, &token, "q=a&max_price=300", last).await),
        ["APL-1"]
    );
    for bad in [
        "min_price=x",
        "limit=0",
        "limit=201",
        "cursor=zzz",
        "min_price=5&max_price=1",
    ] {
        app.call(
            Method::GET,
            &format!("/v1/products?{bad}"),
            &token,
            None,
            &[],
        )
        .await
        .problem(StatusCode::BAD_REQUEST, "validation_failed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_sees_every_product_once_while_writes_happen() {
    let app = TestApp::spawn().await;
    let (_, token) = app.tenant_with_token(&["member"]).await;
    let mut last = 0;
    let mut expected = Vec::new();
    for i in 0..23 {
        let sku = format!("P{i:03}");
        last = app.product(&token, &sku, "Item", 100 + i, 1).await.1;
        expected.push(sku);
    }
    let mut seen: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut page_no = 0;
    loop {
        let mut path = "/v1/products?limit=5".to_string();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let body = app
            .call(
                Method::GET,
                &path,
                &token,
                None,
                &[("x-min-position", &last.to_string())],
            )
            .await
            .expect(StatusCode::OK);
        seen.extend(
            body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["sku"].as_str().unwrap().to_string()),
        );
        // Writes between pages: a new product, and an update of one already seen.
        page_no += 1;
        let (p, _) = app
            .product(&token, &format!("NEW{page_no}"), "Late", 1, 1)
            .await;
        let _ = p;
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "duplicates: {seen:?}");
    for sku in &expected {
        assert!(seen.contains(sku), "{sku} missing: {seen:?}");
    }
    let original: Vec<&String> = seen.iter().filter(|s| s.starts_with('P')).collect();
    assert_eq!(
        original,
        expected.iter().collect::<Vec<_>>(),
        "creation order"
    );
}
