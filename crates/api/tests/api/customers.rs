//! The customers resource (`commerce::customers`): create, get, list by name prefix, and the
//! `customer_list` projection's order count and total spent, fed by the order events.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn a_customer_counts_its_orders_and_what_it_spent() {
    let app = TestApp::spawn().await;
    let (_, token) = app.tenant_with_token(&["member"]).await;
    let created = app
        .call(
            Method::POST,
            "/v1/customers",
            &token,
            Some(json!({"name": "  Ada Lovelace "})),
            &[],
        )
        .await;
    assert_eq!(created.header("etag"), Some("\"1\""));
    let ada = created.expect(StatusCode::CREATED);
    assert_eq!(
        (ada["name"].as_str(), ada["orders"].as_i64()),
        (Some("Ada Lovelace"), Some(0))
    );
    let ada_id = ada["id"].as_str().unwrap().to_string();
    let grace = app
        .call(
            Method::POST,
            "/v1/customers",
            &token,
            Some(json!({"name": "Grace"})),
            &[],
        )
        .await
        .expect(StatusCode::CREATED);

    let (product, _) = app.product(&token, "P", "Pen", 150, 100).await;
    let pen = product["id"].as_str().unwrap();
    app.order(&token, &ada_id, &[(pen, 2)])
        .await
        .expect(StatusCode::CREATED);
    let second = app
        .order(&token, &ada_id, &[(pen, 4)])
        .await
        .expect(StatusCode::CREATED);
    let cancel = format!("/v1/orders/{}/cancel", second["id"].as_str().unwrap());
    let cancelled = app.call(Method::POST, &cancel, &token, None, &[]).await;
    let third = app.order(&token, &ada_id, &[(pen, 1)]).await;
    assert!(cancelled.position() < third.position());
    let last = third.position().to_string();

    let read = [("x-min-position", last.as_str())];
    let view = app
        .call(
            Method::GET,
            &format!("/v1/customers/{ada_id}"),
            &token,
            None,
            &read,
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        (view["orders"].as_i64(), view["spent_cents"].as_i64()),
        (Some(2), Some(450))
    );

    let found = app
        .call(
            Method::GET,
            "/v1/customers?name_prefix=ADA",
            &token,
            None,
            &read,
        )
        .await
        .expect(StatusCode::OK);
    let names: Vec<&str> = found["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Ada Lovelace"]);
    let all = app
        .call(Method::GET, "/v1/customers?limit=1", &token, None, &read)
        .await
        .expect(StatusCode::OK);
    assert_eq!(all["items"].as_array().unwrap().len(), 1);
    let next = all["next_cursor"].as_str().expect("a second page");
    let rest = app
        .call(
            Method::GET,
            &format!("/v1/customers?limit=1&cursor={next}"),
            &token,
            None,
            &read,
        )
        .await
        .expect(StatusCode::OK);
    let ids = [&all["items"][0]["id"], &rest["items"][0]["id"]];
    assert!(
        ids.contains(&&grace["id"]) && ids.contains(&&ada["id"]),
        "{ids:?}"
    );
}

#[tokio::test]
async fn orders_of_a_customer_not_created_are_not_a_customer() {
    let app = TestApp::spawn().await;
    let (_, token) = app.tenant_with_token(&["member"]).await;
    let (product, _) = app.product(&token, "P", "Pen", 150, 100).await;
    let pen = product["id"].as_str().unwrap();
    let placed = app.order(&token, "walk-in", &[(pen, 1)]).await;
    let read = [("x-min-position", placed.position().to_string())];
    let read: Vec<(&str, &str)> = read.iter().map(|(k, v)| (*k, v.as_str())).collect();
    app.call(Method::GET, "/v1/customers/walk-in", &token, None, &read)
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    let list = app
        .call(Method::GET, "/v1/customers", &token, None, &read)
        .await
        .expect(StatusCode::OK);
    assert_eq!(list["items"], json!([]));
    app.call(
        Method::POST,
        "/v1/customers",
        &token,
        Some(json!({"name": " ", "extra": 1})),
        &[],
    )
    .await
    .problem(StatusCode::BAD_REQUEST, "validation_failed");
}
