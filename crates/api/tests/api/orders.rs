//! docs/API.md "Tenant API": orders — snapshots, stock, transitions, concurrency, lists.

use std::collections::HashSet;
use std::time::Duration;

use futures::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{Call, TestApp, problem_errors};

#[tokio::test]
async fn placing_an_order_snapshots_prices_and_takes_stock() {
    let app = TestApp::spawn().await;
    let (_, token) = app.tenant_with_token(&["member"]).await;
    let (a, _) = app.product(&token, "A", "Alpha", 250, 10).await;
    let (b, _) = app.product(&token, "B", "Beta", 1000, 3).await;
    let (a_id, b_id) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    let placed = app.order(&token, "c1", &[(a_id, 4), (b_id, 3)]).await;
    assert_eq!(placed.header("etag"), Some("\"1\""));
    let position = placed.position();
    let order = placed.expect(StatusCode::CREATED);
    assert_eq!(order["status"], "placed");
    assert_eq!(order["total_cents"], 4 * 250 + 3 * 1000);
    assert_eq!(order["lines"][0]["price_cents"], 250);
    assert_eq!(order["lines"][1]["line_total_cents"], 3000);
    assert_eq!(
        order["customer"],
        json!({"id": "c1", "name": "Customer c1"})
    );
    let order_id = order["id"].as_str().unwrap().to_string();

    // A later price change does not touch the order.
    app.call(
        Method::PATCH,
        &format!("/v1/products/{a_id}"),
        &token,
        Some(json!({"price_cents": 1})),
        &[],
    )
    .await
    .expect(StatusCode::OK);
    let min = [("x-min-position", position.to_string())];
    let min: Vec<(&str, &str)> = min.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let view = app
        .call(
            Method::GET,
            &format!("/v1/orders/{order_id}"),
            &token,
            None,
            &min,
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(view["lines"][0]["price_cents"], 250);
    assert_eq!(view, order);
    let stock = app
        .call(
            Method::GET,
            &format!("/v1/products/{a_id}"),
            &token,
            None,
            &min,
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(stock["stock"], 6);

    app.order(&token, "c1", &[(b_id, 1)])
        .await
        .problem(StatusCode::CONFLICT, "insufficient_stock");
    let unknown = app
        .order(&token, "c1", &[(a_id, 1), ("no-such-product", 1)])
        .await;
    unknown.problem(StatusCode::UNPROCESSABLE_ENTITY, "unknown_product");
    // Unknown products win over missing stock, each one named, whichever line fails first.
    let both = app
        .order(&token, "c1", &[(b_id, 1000), ("nope-1", 1), ("nope-2", 1)])
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "unknown_product");
    let named = problem_errors(&both, "message");
    assert_eq!(named, ["unknown product nope-1", "unknown product nope-2"]);
    // Nothing of the failed orders stuck: a's stock is still 6.
    let stock = app
        .call(
            Method::GET,
            &format!("/v1/products/{a_id}"),
            &token,
            None,
            &[],
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(stock["stock"], 6);
}

#[tokio::test]
async fn order_validation_names_each_bad_field() {
    let app = TestApp::spawn().await;
    let (_, token) = app.tenant_with_token(&["member"]).await;
    let (p, _) = app.product(&token, "A", "Alpha", 1, 5).await;
    let id = p["id"].as_str().unwrap();
    let body = json!({"customer": {"id": "c", "name": "C", "vip": true}, "lines": [{"product_id": id, "qty": "2"}, 7, {"qty": 1}]});
    let call = app
        .call(Method::POST, "/v1/orders", &token, Some(body), &[])
        .await;
    let problem = call.problem(StatusCode::BAD_REQUEST, "validation_failed");
    let fields: HashSet<&str> = problem_errors(&problem, "field").into_iter().collect();
    assert_eq!(
        fields,
        HashSet::from([
            "customer.vip",
            "lines[0].qty",
            "lines[1]",
            "lines[2].product_id"
        ]),
        "{problem}"
    );
    let body = json!({"customer": {"id": "c", "name": "C"}, "lines": [{"product_id": id, "qty": 0}, {"product_id": id, "qty": 1}]});
    let problem = app
        .call(Method::POST, "/v1/orders", &token, Some(body), &[])
        .await
        .problem(StatusCode::BAD_REQUEST, "validation_failed");
    let fields: HashSet<&str> = problem_errors(&problem, "field").into_iter().collect();
    assert_eq!(
        fields,
        HashSet::from(["lines[0].qty", "lines[1].product_id"]),
        "{problem}"
    );
    let empty = json!({"customer": {"id": "c", "name": "C"}, "lines": []});
    app.call(Method::POST, "/v1/orders", &token, Some(empty), &[])
        .await
        .problem(StatusCode::BAD_REQUEST, "validation_failed");
}

#[tokio::test]
async fn cancel_restores_stock_and_transitions_are_checked() {
    let app = TestApp::spawn().await;
    let (_, token) = app.tenant_with_token(&["member"]).await;
    let (p, _) = app.product(&token, "A", "Alpha", 100, 5).await;
    let pid = p["id"].as_str().unwrap();
    let first = app
        .order(&token, "c1", &[(pid, 2)])
        .await
        .expect(StatusCode::CREATED);
    let second = app
        .order(&token, "c1", &[(pid, 3)])
        .await
        .expect(StatusCode::CREATED);
    let (first_id, second_id) = (
        first["id"].as_str().unwrap(),
        second["id"].as_str().unwrap(),
    );

    move_order(&app, &token, first_id, "cancel", Some(7))
        .await
        .problem(StatusCode::PRECONDITION_FAILED, "version_mismatch");
    let cancelled = move_order(&app, &token, first_id, "cancel", Some(1)).await;
    let position = cancelled.position().to_string();
    let body = cancelled.expect(StatusCode::OK);
    assert_eq!(
        (body["status"].as_str(), body["version"].as_i64()),
        (Some("cancelled"), Some(2))
    );
    let stock = app
        .call(
            Method::GET,
            &format!("/v1/products/{pid}"),
            &token,
            None,
            &[("x-min-position", &position)],
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(stock["stock"], 2, "5 - 2 - 3 + 2");
    move_order(&app, &token, first_id, "cancel", None)
        .await
        .problem(StatusCode::CONFLICT, "invalid_transition");
    move_order(&app, &token, first_id, "fulfil", None)
        .await
        .problem(StatusCode::CONFLICT, "invalid_transition");
    // A stale If-Match on an order that cannot move anyway: the version is checked first.
    move_order(&app, &token, first_id, "fulfil", Some(1))
        .await
        .problem(StatusCode::PRECONDITION_FAILED, "version_mismatch");

    let fulfilled = move_order(&app, &token, second_id, "fulfil", None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(fulfilled["status"], "fulfilled");
    move_order(&app, &token, second_id, "cancel", None)
        .await
        .problem(StatusCode::CONFLICT, "invalid_transition");
    move_order(&app, &token, "nope", "cancel", None)
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_orders_on_stock_twenty() {
    // 50 orders queue for the tenant's budget (16): a long wait keeps a busy machine from turning
    // that queue into 503s, which this test is not about (pooling tests cover the budget).
    let app = TestApp::spawn_with(|c| c.pools.budget_wait = Duration::from_millis(60000)).await;
    let (_, token) = app.tenant_with_token(&["member"]).await;
    let (p, _) = app.product(&token, "HOT", "Hot item", 500, 20).await;
    let pid = p["id"].as_str().unwrap().to_string();
    let calls: Vec<_> = futures::stream::iter(0..50)
        .map(|i| {
            let (app, token, pid) = (&app, &token, &pid);
            async move {
                app.order(token, &format!("c{i}"), &[(pid.as_str(), 1)])
                    .await
            }
        })
        .buffer_unordered(50)
        .collect()
        .await;
    let mut positions = Vec::new();
    let (mut ok, mut out_of_stock) = (0, 0);
    for call in calls {
        match call.status {
            StatusCode::CREATED => {
                ok += 1;
                positions.push(call.position());
            }
            StatusCode::CONFLICT => {
                assert_eq!(call.body["code"], "insufficient_stock");
                out_of_stock += 1;
            }
            other => panic!("unexpected {other}: {}", call.body),
        }
    }
    assert_eq!((ok, out_of_stock), (20, 30));
    let unique: HashSet<i64> = positions.iter().copied().collect();
    assert_eq!(unique.len(), 20, "event positions are unique");
    let last = *positions.iter().max().unwrap();
    let product = app
        .call(
            Method::GET,
            &format!("/v1/products/{pid}"),
            &token,
            None,
            &[("x-min-position", &last.to_string())],
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(product["stock"], 0, "never negative, never oversold");
    let orders = app
        .call(
            Method::GET,
            "/v1/orders?limit=200",
            &token,
            None,
            &[("x-min-position", &last.to_string())],
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(orders["items"].as_array().unwrap().len(), 20);
    // The outbox is gap-free: product.created (1) then per order stock_changed + order.placed.
    assert_eq!(last, 1 + 2 * 20, "positions 1..=41 with no holes");
}

#[tokio::test]
async fn order_lists_filter_by_status_and_customer() {
    let app = TestApp::spawn().await;
    let (_, token) = app.tenant_with_token(&["member"]).await;
    let (p, _) = app.product(&token, "A", "Alpha", 100, 100).await;
    let pid = p["id"].as_str().unwrap();
    let mut ids = Vec::new();
    for customer in ["alice", "bob", "alice", "carol", "alice"] {
        ids.push(
            app.order(&token, customer, &[(pid, 1)])
                .await
                .expect(StatusCode::CREATED)["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let cancelled = app
        .call(
            Method::POST,
            &format!("/v1/orders/{}/cancel", ids[2]),
            &token,
            None,
            &[],
        )
        .await;
    let min = cancelled.position().to_string();
    let get = |q: &'static str| {
        let (app, token, min) = (&app, &token, min.clone());
        async move {
            let body = app
                .call(
                    Method::GET,
                    &format!("/v1/orders?{q}"),
                    token,
                    None,
                    &[("x-min-position", &min)],
                )
                .await
                .expect(StatusCode::OK);
            body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        get("customer_id=alice").await,
        [ids[0].clone(), ids[2].clone(), ids[4].clone()]
    );
    assert_eq!(
        get("customer_id=alice&status=placed").await,
        [ids[0].clone(), ids[4].clone()]
    );
    assert_eq!(get("status=cancelled").await, [ids[2].clone()]);
    assert_eq!(get("").await, ids);
    let first_page = app
        .call(
            Method::GET,
            "/v1/orders?limit=2",
            &token,
            None,
            &[("x-min-position", &min)],
        )
        .await
        .expect(StatusCode::OK);
    let cursor = first_page["next_cursor"].as_str().unwrap();
    let next = app
        .call(
            Method::GET,
            &format!("/v1/orders?limit=2&cursor={cursor}"),
            &token,
            None,
            &[],
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(next["items"][0]["id"], ids[2].as_str());
    // A cursor of another filter is refused.
    app.call(
        Method::GET,
        &format!("/v1/orders?status=placed&cursor={cursor}"),
        &token,
        None,
        &[],
    )
    .await
    .problem(StatusCode::BAD_REQUEST, "validation_failed");
    app.call(Method::GET, "/v1/orders?status=lost", &token, None, &[])
        .await
        .problem(StatusCode::BAD_REQUEST, "validation_failed");
}

/// `POST /v1/orders/{id}/{action}`, with `If-Match: "<version>"` when given.
async fn move_order(
    app: &TestApp,
    token: &str,
    id: &str,
    action: &str,
    if_match: Option<i64>,
) -> Call {
    let tag = if_match.map(|v| format!("\"{v}\""));
    let headers: Vec<(&str, &str)> = tag.iter().map(|t| ("if-match", t.as_str())).collect();
    let path = format!("/v1/orders/{id}/{action}");
    app.call(Method::POST, &path, token, None, &headers).await
}
