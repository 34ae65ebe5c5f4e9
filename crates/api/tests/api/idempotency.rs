//! `Idempotency-Key`: replays, reuse with another body, concurrent duplicates.

use futures::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::TestApp;

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
    let min = first.position().to_string();
    let list = app
        .call(
            Method::GET,
            "/v1/products",
            &token,
            None,
            &[("x-min-position", &min)],
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}
