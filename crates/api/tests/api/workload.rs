//! A write workload over several instances and what its acknowledged commands add up to, so
//! tests can check every read model against sums recomputed on the client side.

use std::collections::BTreeMap;
use std::sync::Mutex;

use futures::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::process::{Fleet, Server};

/// One tenant of the workload: its token, products and what was acknowledged.
pub struct Shop {
    pub id: String,
    pub token: String,
    /// (product id, price)
    pub products: Vec<(String, i64)>,
    pub ledger: Mutex<Ledger>,
}

/// An acknowledged order: total, lines (product index, qty), cancelled.
pub type Placed = (i64, Vec<(usize, i64)>, bool);

/// Acknowledged commands of one tenant.
#[derive(Default, Debug)]
pub struct Ledger {
    /// Order id → what was acknowledged of it.
    pub orders: BTreeMap<String, Placed>,
    /// The highest event position acknowledged.
    pub last_position: i64,
}

impl Ledger {
    fn saw(&mut self, position: i64) {
        self.last_position = self.last_position.max(position);
    }
}

const PRICES: [i64; 3] = [100, 250, 399];

/// Creates `n` tenants (through `server`) with three products each, plenty of stock.
pub async fn shops(fleet: &Fleet, server: &Server, n: usize) -> Vec<Shop> {
    let mut shops = Vec::new();
    for _ in 0..n {
        let id = testkit::unique_name("t");
        server
            .admin_json(
                Method::POST,
                "/admin/tenants",
                Some(json!({"id": id, "name": format!("Shop {id}")})),
            )
            .await
            .expect(StatusCode::CREATED);
        let token = fleet.token(&id, &["admin"]);
        let mut products = Vec::new();
        let mut last = 0;
        for (i, price) in PRICES.iter().enumerate() {
            let body = json!({"sku": format!("SKU{i}"), "name": format!("Product {i}"), "price_cents": price, "stock": 1_000_000});
            let call = server
                .call(Method::POST, "/v1/products", &token, Some(body), &[])
                .await
                .expect("the instance answers");
            last = call.position();
            let product = call.expect(StatusCode::CREATED);
            products.push((
                product["id"].as_str().unwrap_or_default().to_string(),
                *price,
            ));
        }
        let ledger = Mutex::new(Ledger {
            last_position: last,
            ..Ledger::default()
        });
        shops.push(Shop {
            id,
            token,
            products,
            ledger,
        });
    }
    shops
}

/// The lines of the `i`-th order: one or two products, small quantities.
fn lines_of(i: usize) -> Vec<(usize, i64)> {
    let mut lines = vec![(i % 3, 1 + (i % 4) as i64)];
    if i.is_multiple_of(2) {
        lines.push(((i + 1) % 3, 1));
    }
    lines
}

/// Places `per_shop` orders in every shop, `concurrency` at a time, round-robin over `servers`,
/// each with an `Idempotency-Key`: a request whose answer was lost (its instance died) is sent
/// again to the next instance with the same key, so every order is acknowledged exactly once.
/// Then cancels every fifth order the same way. No request may be answered 5xx.
pub async fn place_and_cancel(
    shops: &[Shop],
    servers: &[&Server],
    per_shop: usize,
    concurrency: usize,
) {
    let jobs: Vec<(usize, usize)> = (0..per_shop)
        .flat_map(|i| (0..shops.len()).map(move |s| (s, i)))
        .collect();
    futures::stream::iter(jobs.iter().enumerate())
        .for_each_concurrent(concurrency, |(n, (s, i))| async move {
            let shop = &shops[*s];
            let lines = lines_of(*i);
            let body = json!({
                "customer": {"id": format!("c{}", i % 5), "name": "Customer"},
                "lines": lines.iter().map(|(p, q)| json!({"product_id": shop.products[*p].0, "qty": q})).collect::<Vec<_>>(),
            });
            let key = format!("order-{i}");
            let headers = [("idempotency-key", key.as_str())];
            let placed = until_answered(servers, n, |server| {
                server.call(Method::POST, "/v1/orders", &shop.token, Some(body.clone()), &headers)
            })
            .await;
            let position = placed.position();
            let order = placed.expect(StatusCode::CREATED);
            let total: i64 = lines.iter().map(|(p, q)| shop.products[*p].1 * q).sum();
            assert_eq!(order["total_cents"], total, "{order}");
            let id = order["id"].as_str().unwrap_or_default().to_string();
            let mut ledger = shop.ledger.lock().unwrap();
            ledger.saw(position);
            ledger.orders.insert(id, (total, lines, false));
        })
        .await;
    let cancels: Vec<(usize, String)> = shops
        .iter()
        .enumerate()
        .flat_map(|(s, shop)| {
            let ids: Vec<String> = shop.ledger.lock().unwrap().orders.keys().cloned().collect();
            ids.into_iter().step_by(5).map(move |id| (s, id))
        })
        .collect();
    futures::stream::iter(cancels.iter().enumerate())
        .for_each_concurrent(concurrency, |(n, (s, id))| async move {
            let shop = &shops[*s];
            let path = format!("/v1/orders/{id}/cancel");
            let call = until_answered(servers, n, |server| {
                server.call(Method::POST, &path, &shop.token, None, &[])
            })
            .await;
            let mut ledger = shop.ledger.lock().unwrap();
            // A cancel retried after a lost answer finds the order cancelled already.
            if call.status == StatusCode::OK {
                ledger.saw(call.position());
            } else {
                assert_eq!(call.body["code"], "invalid_transition", "{}", call.body);
            }
            if let Some(order) = ledger.orders.get_mut(id) {
                order.2 = true;
            }
        })
        .await;
}

/// Sends a request to `servers[start]`, then to the next ones while there is no answer (the
/// instance is down) or a 503 (retry shortly: e.g. an instance just resumed from a pause finds
/// its database connections timed out), as a load balancer would; any other 5xx fails the test.
/// Retrying is safe: orders carry an `Idempotency-Key`, and a repeated cancel is answered
/// `invalid_transition`.
async fn until_answered<'a, F, Fut>(
    servers: &[&'a Server],
    start: usize,
    call: F,
) -> crate::support::Call
where
    F: Fn(&'a Server) -> Fut,
    Fut: std::future::Future<Output = Option<crate::support::Call>>,
{
    for attempt in 0..servers.len() * 20 {
        let server = servers[(start + attempt) % servers.len()];
        if let Some(answer) = call(server).await
            && answer.status != StatusCode::SERVICE_UNAVAILABLE
        {
            assert!(
                !answer.status.is_server_error(),
                "{} answered {}: {}",
                server.name,
                answer.status,
                answer.body
            );
            return answer;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no instance answered");
}

/// What every read model must say, from the acknowledged commands.
#[derive(Debug, PartialEq, Eq)]
pub struct Expected {
    pub orders: i64,
    pub cancelled: i64,
    pub revenue: i64,
    /// units sold per product index (cancelled orders excluded)
    pub units: Vec<i64>,
}

pub fn expected(shop: &Shop) -> Expected {
    let ledger = shop.ledger.lock().unwrap();
    let mut units = vec![0; shop.products.len()];
    let (mut orders, mut cancelled, mut revenue) = (0, 0, 0);
    for (total, lines, is_cancelled) in ledger.orders.values() {
        orders += 1;
        if *is_cancelled {
            cancelled += 1;
            continue;
        }
        revenue += total;
        for (p, q) in lines {
            units[*p] += q;
        }
    }
    Expected {
        orders,
        cancelled,
        revenue,
        units,
    }
}

fn no_answer(server: &Server) -> ! {
    panic!(
        "{} gave no answer (log {})",
        server.name,
        server.log.display()
    )
}

/// What `server` says, once the shop's last acknowledged position is projected.
pub async fn observed(server: &Server, shop: &Shop) -> Expected {
    let position = shop.ledger.lock().unwrap().last_position.to_string();
    let min = [("x-min-position", position.as_str())];
    let today = chrono_free_today();
    let sales = server
        .call(
            Method::GET,
            &format!("/v1/reports/sales?from={}&to={}", today.0, today.1),
            &shop.token,
            None,
            &min,
        )
        .await
        .unwrap_or_else(|| no_answer(server))
        .expect(StatusCode::OK);
    let days = sales["items"].as_array().cloned().unwrap_or_default();
    let sum = |field: &str| {
        days.iter()
            .map(|d| d[field].as_i64().unwrap_or(0))
            .sum::<i64>()
    };
    let top = server
        .call(
            Method::GET,
            "/v1/reports/top-products?limit=100",
            &shop.token,
            None,
            &min,
        )
        .await
        .unwrap_or_else(|| no_answer(server))
        .expect(StatusCode::OK);
    let units = shop
        .products
        .iter()
        .map(|(id, _)| {
            top["items"]
                .as_array()
                .and_then(|items| items.iter().find(|i| i["product_id"] == id.as_str()))
                .map_or(0, |i: &Value| i["units_sold"].as_i64().unwrap_or(0))
        })
        .collect();
    Expected {
        orders: sum("orders"),
        cancelled: sum("cancelled"),
        revenue: sum("revenue_cents"),
        units,
    }
}

/// Yesterday and tomorrow (UTC) as `YYYY-MM-DD`: a range that holds "today" wherever the test
/// runs across midnight.
fn chrono_free_today() -> (String, String) {
    let day = |offset: i64| {
        let millis = mongodb::bson::DateTime::now().timestamp_millis() + offset * 86_400_000;
        mongodb::bson::DateTime::from_millis(millis)
            .try_to_rfc3339_string()
            .unwrap_or_default()[..10]
            .to_string()
    };
    (day(-1), day(1))
}
