//! Group commit (`cqrs::command::group`): a burst of commands on one tenant commits in groups,
//! and every answer, position and stock level is what the same commands one at a time give.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures::StreamExt;
use mongodb::bson::Document;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Call, TestApp, all_documents, mongo, send};

/// A server whose burst waits for the tenant's budget rather than answering 503.
async fn burst_app() -> TestApp {
    TestApp::spawn_with(|c| c.pools.budget_wait = Duration::from_secs(60)).await
}

fn order_body(customer: &str, lines: &[(&str, i64)]) -> Value {
    let lines: Vec<Value> = lines
        .iter()
        .map(|(p, q)| json!({"product_id": p, "qty": q}))
        .collect();
    json!({"customer": {"id": customer, "name": "C"}, "lines": lines})
}

/// The tenant's outbox, asserted gap-free from position 1.
async fn outbox(app: &TestApp, tenant: &str) -> Vec<Document> {
    let db = mongo().await.database(&app.database_of(tenant).await);
    let events = all_documents(&db, "outbox").await;
    for (i, event) in events.iter().enumerate() {
        assert_eq!(
            event.get_i64("_id").unwrap(),
            i as i64 + 1,
            "gap-free positions"
        );
    }
    events
}

fn event_type(event: &Document) -> &str {
    event.get_str("type").unwrap()
}

fn payload(event: &Document) -> &Document {
    event.get_document("payload").unwrap()
}

/// The value of an unlabelled series in the server's `/metrics` (0 when absent).
async fn scraped(app: &TestApp, name: &str) -> f64 {
    let text = app
        .request(Method::GET, "/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    crate::support::metric(&text, name)
}

/// Stock after each `product.stock_changed` of `product`, in outbox order, with the order
/// that changed it: each order's decrement is its own, applied to the stock the one before left.
fn stock_trail(events: &[Document], product: &str) -> Vec<i64> {
    events
        .iter()
        .filter(|e| event_type(e) == "product.stock_changed")
        .filter(|e| payload(e).get_str("_id").unwrap() == product)
        .map(|e| payload(e).get_i64("stock").unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_on_one_tenant_commits_in_groups_as_if_one_at_a_time() {
    let app = burst_app().await;
    let (tenant, token) = app.tenant_with_token(&["member"]).await;
    let (product, _) = app.product(&token, "HOT", "Hot", 100, 1000).await;
    let pid = product["id"].as_str().unwrap().to_string();
    let calls: Vec<(i64, Call)> = futures::stream::iter(0..40_i64)
        .map(|i| {
            let (app, token, pid) = (&app, &token, &pid);
            async move {
                let qty = i % 3 + 1;
                (qty, app.order(token, &format!("c{i}"), &[(pid, qty)]).await)
            }
        })
        .buffer_unordered(40)
        .collect()
        .await;
    let mut placed: HashMap<i64, (String, i64)> = HashMap::new();
    for (qty, call) in calls {
        let position = call.position();
        let order = call.expect(StatusCode::CREATED);
        assert_eq!(order["total_cents"], 100 * qty);
        let id = order["id"].as_str().unwrap().to_string();
        assert!(
            placed.insert(position, (id, qty)).is_none(),
            "positions are unique"
        );
    }

    // Each answer's position is its own order's event; the one before it is its decrement, and
    // the decrements follow each other as if the orders ran one by one.
    let events = outbox(&app, &tenant).await;
    assert_eq!(events.len(), 1 + 2 * 40);
    for (position, (id, _)) in &placed {
        let event = &events[*position as usize - 1];
        assert_eq!(event_type(event), "order.placed");
        assert_eq!(payload(event).get_str("_id").unwrap(), id);
        let before = &events[*position as usize - 2];
        assert_eq!(event_type(before), "product.stock_changed");
    }
    let trail = stock_trail(&events, &pid);
    let mut stock = 1000;
    for (k, after) in trail.iter().enumerate() {
        let position = 2 * k as i64 + 3;
        stock -= placed[&position].1;
        assert_eq!(*after, stock, "the decrement of the order at {position}");
    }
    let read = app.get_at(&format!("/v1/products/{pid}"), &token, 81).await;
    assert_eq!(read["stock"], stock);

    // They did commit together: fewer transactions than commands.
    let groups = scraped(&app, "tenantry_command_group_size_count").await;
    let commands = scraped(&app, "tenantry_command_group_size_sum").await;
    assert!(commands >= 41.0, "{commands} commands in groups");
    assert!(groups < 41.0, "41 commands in {groups} transactions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failures_in_a_group_are_each_commands_own() {
    let app = burst_app().await;
    let (tenant, token) = app.tenant_with_token(&["member"]).await;
    let (scarce, _) = app.product(&token, "SCARCE", "Scarce", 100, 5).await;
    let (plenty, _) = app.product(&token, "PLENTY", "Plenty", 100, 1000).await;
    let scarce = scarce["id"].as_str().unwrap().to_string();
    let plenty = plenty["id"].as_str().unwrap().to_string();
    let calls: Vec<(bool, Call)> = futures::stream::iter(0..40)
        .map(|i| {
            let (app, token) = (&app, &token);
            let product = if i % 2 == 0 { &scarce } else { &plenty };
            let lines: Vec<(&str, i64)> = match i % 4 {
                // Two-line orders: the scarce line fails after the plenty one was decremented.
                0 => vec![(plenty.as_str(), 1), (product.as_str(), 1)],
                _ => vec![(product.as_str(), 1)],
            };
            async move { (i % 2 == 0, app.order(token, &format!("c{i}"), &lines).await) }
        })
        .buffer_unordered(40)
        .collect()
        .await;
    let (mut scarce_ok, mut refused, mut plenty_ok) = (0, 0, 0);
    for (wants_scarce, call) in calls {
        match (wants_scarce, call.status) {
            (true, StatusCode::CREATED) => scarce_ok += 1,
            (true, StatusCode::CONFLICT) => {
                assert_eq!(call.body["code"], "insufficient_stock");
                refused += 1;
            }
            (false, StatusCode::CREATED) => plenty_ok += 1,
            (_, status) => panic!("unexpected {status}: {}", call.body),
        }
    }
    assert_eq!((scarce_ok, refused, plenty_ok), (5, 15, 20));

    // A refused order left nothing: not its decrement of the other line, no event, no order.
    let events = outbox(&app, &tenant).await;
    let placed = events
        .iter()
        .filter(|e| event_type(e) == "order.placed")
        .count();
    assert_eq!(placed, 25);
    let plenty_trail = stock_trail(&events, &plenty);
    let scarce_trail = stock_trail(&events, &scarce);
    assert_eq!(scarce_trail, vec![4, 3, 2, 1, 0]);
    let two_line_ok = plenty_trail.len() - 20;
    assert_eq!(plenty_trail.last(), Some(&(1000 - 20 - two_line_ok as i64)));
    assert!(plenty_trail.windows(2).all(|w| w[1] == w[0] - 1));
    let last = events.len() as i64;
    let orders = app.get_at("/v1/orders?limit=100", &token, last).await;
    assert_eq!(orders["items"].as_array().unwrap().len(), 25);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn keyed_commands_in_a_group_are_replayed_with_their_own_answer() {
    let app = burst_app().await;
    let (tenant, token) = app.tenant_with_token(&["member"]).await;
    let (product, _) = app.product(&token, "HOT", "Hot", 100, 1000).await;
    let pid = product["id"].as_str().unwrap().to_string();
    let keyed = |keys: Vec<usize>| {
        let (app, token, pid) = (&app, &token, &pid);
        futures::stream::iter(keys)
            .map(move |key| async move {
                let body = order_body(&format!("c{key}"), &[(pid, 1)]);
                let request = app.v1(Method::POST, "/v1/orders", token);
                let key_header = format!("burst-{key}");
                let call = send(request, Some(body), &[("idempotency-key", &key_header)]).await;
                (key, call.position(), call.expect(StatusCode::CREATED))
            })
            .buffer_unordered(40)
            .collect::<Vec<_>>()
    };
    // Twenty keys at once: they commit in groups, each with its own record.
    let first: HashMap<usize, (i64, Value)> = keyed((0..20).collect())
        .await
        .into_iter()
        .map(|(key, position, body)| (key, (position, body)))
        .collect();
    assert!(scraped(&app, "tenantry_command_group_size_count").await < 21.0);
    let ids: HashSet<&str> = first
        .values()
        .map(|(_, b)| b["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 20, "one order per key");
    // Each key twice more, at once: every retry is answered as its first request was.
    for (key, position, body) in keyed((0..40).map(|i| i % 20).collect()).await {
        assert_eq!(
            (position, &body),
            (first[&key].0, &first[&key].1),
            "key {key}"
        );
    }
    let events = outbox(&app, &tenant).await;
    assert_eq!(events.len(), 1 + 2 * 20);
    let read = app.get_at(&format!("/v1/products/{pid}"), &token, 41).await;
    assert_eq!(read["stock"], 980);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_dropped_in_a_burst_leave_nothing_half_done() {
    let app = burst_app().await;
    let (tenant, token) = app.tenant_with_token(&["member"]).await;
    let (product, _) = app.product(&token, "HOT", "Hot", 100, 1000).await;
    let pid = product["id"].as_str().unwrap().to_string();
    // Half the clients give up after a few milliseconds, at every stage of their command.
    let calls: Vec<Option<Call>> = futures::stream::iter(0..40_u64)
        .map(|i| {
            let (app, token, pid) = (&app, &token, &pid);
            async move {
                let (customer, lines) = (format!("c{i}"), [(pid.as_str(), 1)]);
                let order = app.order(token, &customer, &lines);
                match i % 2 {
                    0 => tokio::time::timeout(Duration::from_millis(i / 2 + 1), order)
                        .await
                        .ok(),
                    _ => Some(order.await),
                }
            }
        })
        .buffer_unordered(40)
        .collect()
        .await;
    let answered: Vec<Call> = calls.into_iter().flatten().collect();
    assert!(answered.len() >= 20);
    for call in &answered {
        assert_eq!(call.status, StatusCode::CREATED, "{}", call.body);
    }
    // What the dropped requests did is all or nothing; the tenant serves on.
    let next = app.order(&token, "after", &[(&pid, 1)]).await;
    let last = next.position();
    next.expect(StatusCode::CREATED);
    let events = outbox(&app, &tenant).await;
    assert_eq!(events.len() as i64, last);
    let placed = events
        .iter()
        .filter(|e| event_type(e) == "order.placed")
        .count() as i64;
    assert!(
        placed > answered.len() as i64,
        "the answered ones and the one after"
    );
    assert_eq!(
        events.len() as i64,
        1 + 2 * placed,
        "each order with its decrement"
    );
    let read = app
        .get_at(&format!("/v1/products/{pid}"), &token, last)
        .await;
    assert_eq!(read["stock"], 1000 - placed);
    let orders = app.get_at("/v1/orders?limit=100", &token, last).await;
    assert_eq!(orders["items"].as_array().unwrap().len() as i64, placed);
}
