//! `Idempotency-Key`: replays, reuse with another body, concurrent duplicates.

use futures::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{Call, TestApp};

#[tokio::test]
async fn the_same_key_replays_the_first_response() {
    let app = TestApp::spawn().await;
    let (_, token) = app.tenant_with_token(&["member"]).await;
    let body = json!({"sku": "IDEM", "name": "Once", "price_cents": 10, "stock": 3});
    let key = [("idempotency-key", "key-123")];
    let first = app
        .call(
            Method::POST,
            "/v1/products",
            &token,
            Some(body.clone()),
            &key,
        )
        .await;
    let second = app
        .call(
            Method::POST,
            "/v1/products",
            &token,
            Some(body.clone()),
            &key,
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(second.status, StatusCode::CREATED);
    assert_eq!(first.body, second.body);
    assert_eq!(first.position(), second.position());
    // Another body with the same key: 422.
    let other = json!({"sku": "IDEM2", "name": "Twice", "price_cents": 10});
    app.call(Method::POST, "/v1/products", &token, Some(other), &key)
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused");
    // Orders too.
    let pid = first.body["id"].as_str().unwrap();
    let order =
        json!({"customer": {"id": "c", "name": "C"}, "lines": [{"product_id": pid, "qty": 1}]});
    let o1 = app
        .call(
            Method::POST,
            "/v1/orders",
            &token,
            Some(order.clone()),
            &[("idempotency-key", "order-1")],
        )
        .await;
    let o2 = app
        .call(
            Method::POST,
            "/v1/orders",
            &token,
            Some(order),
            &[("idempotency-key", "order-1")],
        )
        .await;
    assert_eq!(
        (o1.status, o2.status),
        (StatusCode::CREATED, StatusCode::CREATED)
    );
    assert_eq!(o1.body, o2.body);
    let min = o2.position().to_string();
    let product = app
        .call(
            Method::GET,
            &format!("/v1/products/{pid}"),
            &token,
            None,
            &[("x-min-position", &min)],
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(product["stock"], 2, "stock taken once");
    app.call(
        Method::POST,
        "/v1/products",
        &token,
        Some(body),
        &[("idempotency-key", "")],
    )
    .await
    .problem(StatusCode::BAD_REQUEST, "validation_failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_duplicates_create_one_resource() {
    let app = TestApp::spawn().await;
    let (_, token) = app.tenant_with_token(&["member"]).await;
    let body = json!({"sku": "RACE", "name": "Race", "price_cents": 10});
    let calls: Vec<_> = futures::stream::iter(0..12)
        .map(|_| {
            app.call(
                Method::POST,
                "/v1/products",
                &token,
                Some(body.clone()),
                &[("idempotency-key", "same-key")],
            )
        })
        .buffer_unordered(12)
        .collect()
        .await;
    let first = &calls[0];
    for call in &calls {
        assert_eq!(call.status, StatusCode::CREATED, "{}", call.body);
        assert_eq!(call.body, first.body);
        assert_eq!(call.position(), first.position());
    }
    let list = app.products_at(&token, first.position()).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

/// The replay is the first response even when the request could not succeed again: the first
/// order took the last unit, the retry is still answered 201 with the same order.
#[tokio::test]
async fn a_replay_answers_what_the_first_request_did_not_what_a_second_would() {
    let app = TestApp::spawn().await;
    let (_, token) = app.tenant_with_token(&["member"]).await;
    let (product, _) = app.product(&token, "LAST", "Last one", 500, 1).await;
    let pid = product["id"].as_str().unwrap();
    let order = |customer: &str| json!({"customer": {"id": customer, "name": "C"}, "lines": [{"product_id": pid, "qty": 1}]});
    let first = keyed_order(&app, &token, order("c"), "last-unit").await;
    let again = keyed_order(&app, &token, order("c"), "last-unit").await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
    assert_eq!(first.body, again.body);
    assert_eq!(first.position(), again.position());
    // A new key is a new order: no stock left for it.
    keyed_order(&app, &token, order("c"), "another")
        .await
        .problem(StatusCode::CONFLICT, "insufficient_stock");
    // The same key with another body: reused, though this body would fail on stock anyway.
    keyed_order(&app, &token, order("d"), "last-unit")
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused");
}

async fn keyed_order(app: &TestApp, token: &str, order: serde_json::Value, key: &str) -> Call {
    app.call(
        Method::POST,
        "/v1/orders",
        token,
        Some(order),
        &[("idempotency-key", key)],
    )
    .await
}
