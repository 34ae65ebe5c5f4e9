//! Reports equal the sums recomputed from the orders.

use std::collections::HashMap;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::TestApp;

#[tokio::test]
async fn reports_equal_the_sums_of_the_orders() {
    let app = TestApp::spawn().await;
    let (_, token) = app.tenant_with_token(&["member"]).await;
    let mut products = Vec::new();
    for (sku, price) in [("A", 100), ("B", 250), ("C", 999)] {
        let (p, _) = app
            .product(&token, sku, &format!("Product {sku}"), price, 1000)
            .await;
        products.push(p["id"].as_str().unwrap().to_string());
    }
    let plan: [&[(usize, i64)]; 6] = [
        &[(0, 3)],
        &[(1, 1), (2, 2)],
        &[(0, 1), (1, 4)],
        &[(2, 1)],
        &[(0, 10)],
        &[(1, 2)],
    ];
    let mut orders = Vec::new();
    for lines in plan {
        let lines: Vec<(&str, i64)> = lines
            .iter()
            .map(|(i, q)| (products[*i].as_str(), *q))
            .collect();
        orders.push(
            app.order(&token, "c", &lines)
                .await
                .expect(StatusCode::CREATED),
        );
    }
    let mut last = 0;
    for i in [1, 4] {
        let id = orders[i]["id"].as_str().unwrap();
        last = app
            .call(
                Method::POST,
                &format!("/v1/orders/{id}/cancel"),
                &token,
                None,
                &[],
            )
            .await
            .position();
    }
    let min = last.to_string();
    let all = app.get_at("/v1/orders?limit=200", &token, last).await;
    let all = all["items"].as_array().unwrap().clone();

    // Recompute the sales report from the orders.
    let today = all[0]["placed_at"].as_str().unwrap()[..10].to_string();
    let live: Vec<&Value> = all.iter().filter(|o| o["status"] != "cancelled").collect();
    let revenue: i64 = live
        .iter()
        .map(|o| o["total_cents"].as_i64().unwrap())
        .sum();
    let cancelled = all.iter().filter(|o| o["status"] == "cancelled").count() as i64;
    let report = app
        .call(
            Method::GET,
            &format!("/v1/reports/sales?from={today}&to={today}"),
            &token,
            None,
            &[("x-min-position", &min)],
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(report["items"].as_array().unwrap().len(), 1);
    let day = &report["items"][0];
    assert_eq!(day["date"], today.as_str());
    assert_eq!(day["orders"], all.len() as i64);
    assert_eq!(day["cancelled"], cancelled);
    assert_eq!(day["revenue_cents"], revenue);

    // Recompute top products from the non-cancelled orders.
    let mut units: HashMap<String, (i64, i64)> = HashMap::new();
    for order in &live {
        for line in order["lines"].as_array().unwrap() {
            let entry = units
                .entry(line["product_id"].as_str().unwrap().to_string())
                .or_default();
            entry.0 += line["qty"].as_i64().unwrap();
            entry.1 += line["line_total_cents"].as_i64().unwrap();
        }
    }
    let top = app.get_at("/v1/reports/top-products", &token, last).await;
    let items = top["items"].as_array().unwrap();
    assert_eq!(items.len(), units.len());
    let mut previous = i64::MAX;
    for item in items {
        let (u, r) = units[item["product_id"].as_str().unwrap()];
        assert_eq!(
            (
                item["units_sold"].as_i64().unwrap(),
                item["revenue_cents"].as_i64().unwrap()
            ),
            (u, r),
            "{item}"
        );
        assert!(
            item["units_sold"].as_i64().unwrap() <= previous,
            "sorted by units sold"
        );
        previous = item["units_sold"].as_i64().unwrap();
        assert!(item["sku"].is_string() && item["name"].is_string());
    }
    let limited = app
        .call(
            Method::GET,
            "/v1/reports/top-products?limit=1",
            &token,
            None,
            &[],
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(limited["items"].as_array().unwrap().len(), 1);

    // A range: zeros on days without orders.
    let week = app
        .call(
            Method::GET,
            "/v1/reports/sales?from=2020-01-01&to=2020-01-07",
            &token,
            None,
            &[],
        )
        .await
        .expect(StatusCode::OK);
    let days = week["items"].as_array().unwrap();
    assert_eq!(days.len(), 7);
    assert!(
        days.iter()
            .all(|d| d["orders"] == 0 && d["revenue_cents"] == 0)
    );
    for bad in [
        "from=2020-01-02&to=2020-01-01",
        "from=nope&to=2020-01-01",
        "to=2020-01-01",
        "from=2020-01-01&to=2022-01-01",
    ] {
        app.call(
            Method::GET,
            &format!("/v1/reports/sales?{bad}"),
            &token,
            None,
            &[],
        )
        .await
        .problem(StatusCode::BAD_REQUEST, "validation_failed");
    }
    for bad in ["limit=0", "limit=101", "limit=x"] {
        app.call(
            Method::GET,
            &format!("/v1/reports/top-products?{bad}"),
            &token,
            None,
            &[],
        )
        .await
        .problem(StatusCode::BAD_REQUEST, "validation_failed");
    }
}
