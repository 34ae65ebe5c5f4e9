//! The cross-tenant leak suite for the domain: tenant B replays every route with tenant A's ids,
//! cursors and keys; nothing of A ever comes back.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn nothing_of_tenant_a_reaches_tenant_b() {
    let app = TestApp::spawn().await;
    let (a, a_token) = app.tenant_with_token(&["admin"]).await;
    let (b, b_token) = app.tenant_with_token(&["admin"]).await;
    let (product, _) = app
        .product(&a_token, "SECRET-SKU", "Secret product of A", 4242, 10)
        .await;
    let pid = product["id"].as_str().unwrap();
    let order = app.order(&a_token, "a-customer", &[(pid, 2)]).await;
    order.position();
    let oid = order.body["id"].as_str().unwrap().to_string();
    // A's cursor.
    let (_, second) = app.product(&a_token, "SECOND", "Second", 1, 1).await;
    let page = app
        .call(
            Method::GET,
            "/v1/products?limit=1",
            &a_token,
            None,
            &[("x-min-position", &second.to_string())],
        )
        .await
        .expect(StatusCode::OK);
    let a_cursor = page["next_cursor"].as_str().unwrap().to_string();

    let secret_markers = [
        a.as_str(),
        pid,
        oid.as_str(),
        "SECRET-SKU",
        "Secret product",
        "a-customer",
    ];
    let mut responses = Vec::new();
    let lists = [
        "/v1/products",
        "/v1/orders",
        "/v1/reports/top-products",
        "/v1/reports/sales?from=2026-01-01&to=2026-12-31",
        "/v1/products?q=secret",
    ];
    for path in lists {
        let body = app
            .call(Method::GET, path, &b_token, None, &[])
            .await
            .expect(StatusCode::OK);
        assert!(
            body["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|i| i.get("orders").is_none_or(|o| o == 0)),
            "{path}: {body}"
        );
        responses.push(body);
    }
    let probes = [
        (
            Method::GET,
            format!("/v1/products/{pid}"),
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            Method::PATCH,
            format!("/v1/products/{pid}"),
            Some(json!({"name": "hijack"})),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::DELETE,
            format!("/v1/products/{pid}"),
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            Method::GET,
            format!("/v1/orders/{oid}"),
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            Method::POST,
            format!("/v1/orders/{oid}/cancel"),
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            Method::POST,
            format!("/v1/orders/{oid}/fulfil"),
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            Method::GET,
            format!("/v1/products?cursor={a_cursor}"),
            None,
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (method, path, body, status) in probes {
        let call = app.call(method, &path, &b_token, body, &[]).await;
        assert_eq!(call.status, status, "{path}: {}", call.body);
        responses.push(call.body);
    }
    // Ordering A's product from B: unknown there.
    let call = app.order(&b_token, "b", &[(pid, 1)]).await;
    assert_eq!(call.status, StatusCode::UNPROCESSABLE_ENTITY);
    responses.push(call.body);
    // A's token against B's data, by header: refused before anything is read.
    app.call(
        Method::GET,
        "/v1/products",
        &a_token,
        None,
        &[("x-tenant-id", &b)],
    )
    .await
    .problem(StatusCode::FORBIDDEN, "tenant_mismatch");

    for body in &responses {
        let text = body.to_string();
        for marker in secret_markers {
            if marker == pid && text.contains("unknown product") {
                continue; // B was told its own request named an unknown product id.
            }
            assert!(!text.contains(marker), "{marker} leaked: {text}");
        }
    }
    // A's data is intact.
    let product = app
        .call(
            Method::GET,
            &format!("/v1/products/{pid}"),
            &a_token,
            None,
            &[],
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(product["name"], "Secret product of A");
}
