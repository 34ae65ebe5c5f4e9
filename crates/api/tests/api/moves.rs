//! Moving a tenant to another cluster while it serves: nothing acknowledged is lost or doubled,
//! positions continue without a gap, projections continue from their checkpoints, keys replay,
//! writes wait (never fail) at the cut-over, and the source is dropped after its grace period.

use std::collections::BTreeSet;
use std::process::Child;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use mongodb::bson::{Document, doc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tenancy::clusters::ClusterConfig;

use crate::process::Fleet;
use crate::support::TestApp;

mod cut_over;
mod switch;
mod unique_keys;

/// A server with two clusters: the test database (`default`) and an embedded database of its
/// own (`eu`); `None` when there is no embedded database binary (tests against MONGODB_URI).
async fn two_clusters(grace: Duration) -> Option<(TestApp, Child, String)> {
    let (devdb, uri) = second_cluster()?;
    let eu = uri.clone();
    let app = TestApp::spawn_with(move |c| {
        c.clusters.push(ClusterConfig {
            name: "eu".into(),
            uri: eu,
        });
        c.moves.grace = grace;
    })
    .await;
    Some((app, devdb, uri))
}

/// An embedded database of its own to serve as a second cluster, or `None` (the test is
/// skipped) when there is no embedded database binary (tests against MONGODB_URI).
pub(crate) fn second_cluster() -> Option<(Child, String)> {
    let devdb = testkit::private_devdb(&[]);
    if devdb.is_none() {
        eprintln!("skipped: no embedded database binary for a second cluster");
    }
    devdb
}

/// A fleet whose instances have the cluster `eu` (at `eu_uri`) besides the test database, and
/// `settings`.
pub(crate) fn fleet_with_eu(eu_uri: &str, settings: &[(&str, &str)]) -> Fleet {
    let clusters = format!("eu={eu_uri}");
    let mut all = vec![("TENANTRY_CLUSTERS", clusters.as_str())];
    all.extend_from_slice(settings);
    Fleet::new(&all)
}

/// The request that moves tenant `id` to the cluster `eu`.
pub(crate) fn move_to_eu(id: &str) -> (Method, String, Option<Value>) {
    let path = format!("/admin/tenants/{id}/move");
    (Method::POST, path, Some(json!({"cluster": "eu"})))
}

/// Starts a move of tenant `id` to the cluster `eu` through `server`.
pub(crate) async fn start_move(server: &crate::process::Server, id: &str) {
    let (method, path, body) = move_to_eu(id);
    server
        .admin_json(method, &path, body)
        .await
        .expect(StatusCode::ACCEPTED);
}

/// Polls the tenant's move until it is done or failed.
pub async fn finished_move(app: &TestApp, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let view = app
            .admin_json(Method::GET, &format!("/admin/tenants/{id}/move"), None)
            .await
            .expect(StatusCode::OK);
        if view["state"] == "done" || view["state"] == "failed" {
            return view;
        }
        assert!(Instant::now() < deadline, "the move did not finish: {view}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The names of the databases on a cluster.
async fn databases(uri: &str) -> Vec<String> {
    let client = mongodb::Client::with_uri_str(uri).await.unwrap();
    client.list_database_names().await.unwrap()
}

/// The number of events in `db`'s outbox, whose positions must run 1..=n without a gap.
pub(crate) async fn gap_free_outbox(db: &mongodb::Database) -> i64 {
    let positions: Vec<i64> = db
        .collection::<Document>("outbox")
        .find(doc! {})
        .sort(doc! {"_id": 1})
        .await
        .unwrap()
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .iter()
        .map(|e| e.get_i64("_id").unwrap())
        .collect();
    let n = positions.len() as i64;
    assert_eq!(positions, (1..=n).collect::<Vec<_>>(), "gap-free positions");
    n
}

/// What the writers and readers saw.
#[derive(Default)]
struct Seen {
    /// (order id, position) of every acknowledged order.
    orders: Vec<(String, i64)>,
    /// Every answer that was not a success (reads at a position may wait in vain: not counted).
    failures: Vec<String>,
    /// Successful reads.
    reads: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tenant_moves_under_load_and_no_acknowledged_write_is_lost() {
    let Some((app, _eu, eu_uri)) = two_clusters(Duration::from_secs(1)).await else {
        return;
    };
    // A second instance on the same catalog: its reads must never go backwards either.
    let eu = eu_uri.clone();
    let other = TestApp::spawn_on_catalog_with(&app.catalog_db, move |c| {
        c.clusters.push(ClusterConfig {
            name: "eu".into(),
            uri: eu,
        });
    })
    .await;
    let (app, other) = (Arc::new(app), Arc::new(other));
    let (id, token) = app.tenant_with_token(&["member"]).await;
    let other_token = other.token(&id, &["viewer"]);
    let latest: Arc<std::sync::Mutex<Option<(String, i64)>>> = Arc::default();
    let mut products = Vec::new();
    for i in 0..3 {
        let (product, _) = app
            .product(&token, &format!("SKU-{i}"), "Moved", 100, 1_000_000)
            .await;
        products.push(product["id"].as_str().unwrap().to_string());
    }
    // A keyed request before the move replays after it.
    let keyed = json!({"sku": "KEYED", "name": "Keyed", "price_cents": 5, "stock": 1});
    let first = app
        .call(
            Method::POST,
            "/v1/products",
            &token,
            Some(keyed.clone()),
            &[("idempotency-key", "before-the-move")],
        )
        .await
        .expect(StatusCode::CREATED);
    for i in 0..150 {
        let call = app.order(&token, "c-seed", &[(&products[i % 3], 1)]).await;
        assert_eq!(call.status, StatusCode::CREATED, "{}", call.body);
    }

    let generation = app.stats(&id).await["projections"]["generation"].clone();
    // Writers and readers run through the whole move.
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..7)
        .map(|w| {
            let (app, token, products, stop) =
                (app.clone(), token.clone(), products.clone(), stop.clone());
            let (other, other_token, latest) = (other.clone(), other_token.clone(), latest.clone());
            tokio::spawn(async move {
                let mut seen = Seen::default();
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let product = &products[(w + i) % 3];
                    if w < 4 {
                        let call = app.order(&token, &format!("c-{w}"), &[(product, 1)]).await;
                        if call.status == StatusCode::CREATED {
                            let order = call.body["id"].as_str().unwrap().to_string();
                            seen.orders.push((order.clone(), call.position()));
                            *latest.lock().unwrap() = Some((order, call.position()));
                        } else {
                            seen.failures
                                .push(format!("order: {} {}", call.status, call.body));
                        }
                    } else if w == 6 {
                        // The other instance, at the position of an acknowledged order.
                        let Some((order, position)) = latest.lock().unwrap().clone() else {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            continue;
                        };
                        let call = other
                            .call(
                                Method::GET,
                                &format!("/v1/orders/{order}"),
                                &other_token,
                                None,
                                &[("x-min-position", &position.to_string())],
                            )
                            .await;
                        // Waited for and not reached in time is an answer the API allows
                        // (`projection_lagging`); an order not found would be a step back.
                        if call.status == StatusCode::OK {
                            seen.reads += 1;
                        } else if call.body["code"] != "projection_lagging" {
                            seen.failures.push(format!(
                                "read at {position} on the other instance: {} {}",
                                call.status, call.body
                            ));
                        }
                    } else {
                        let call = app
                            .call(
                                Method::GET,
                                &format!("/v1/products/{product}"),
                                &token,
                                None,
                                &[],
                            )
                            .await;
                        seen.reads += 1;
                        if call.status != StatusCode::OK {
                            seen.failures
                                .push(format!("read: {} {}", call.status, call.body));
                        }
                    }
                }
                seen
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let (method, path, body) = move_to_eu(&id);
    let started = app
        .admin_json(method.clone(), &path, body.clone())
        .await
        .expect(StatusCode::ACCEPTED);
    assert_eq!(started["from"], "default");
    assert_eq!(started["to"], "eu");
    // One move at a time.
    app.admin_json(method, &path, body)
        .await
        .problem(StatusCode::CONFLICT, "move_in_progress");
    let done = finished_move(&app, &id).await;
    assert_eq!(done["state"], "done", "{done}");
    assert!(done["write_pause_ms"].as_i64().is_some(), "{done}");
    assert!(done["documents_copied"].as_i64().unwrap() > 150, "{done}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let mut seen = Seen::default();
    for worker in workers {
        let s = worker.await.unwrap();
        seen.orders.extend(s.orders);
        seen.failures.extend(s.failures);
        seen.reads += s.reads;
    }
    assert!(seen.failures.is_empty(), "{:?} {done}", seen.failures);
    assert!(seen.orders.len() > 20 && seen.reads > 20);

    let tenant = app
        .admin_json(Method::GET, &format!("/admin/tenants/{id}"), None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(tenant["cluster"], "eu");
    let database = tenant["database"].as_str().unwrap().to_string();

    // Every acknowledged order is there, at its own position; positions run 1..=n.
    let target = mongodb::Client::with_uri_str(&eu_uri)
        .await
        .unwrap()
        .database(&database);
    let n = gap_free_outbox(&target).await;
    let acknowledged: BTreeSet<i64> = seen.orders.iter().map(|(_, p)| *p).collect();
    assert_eq!(acknowledged.len(), seen.orders.len(), "one position each");
    let last = *acknowledged.iter().max().unwrap();
    assert!(last <= n);
    let orders = target
        .collection::<Document>("orders")
        .count_documents(doc! {})
        .await
        .unwrap();
    assert_eq!(
        orders,
        150 + seen.orders.len() as u64,
        "no order lost or doubled"
    );
    for (order, _) in seen.orders.iter().step_by(7) {
        app.get_at(&format!("/v1/orders/{order}"), &token, last)
            .await;
    }
    // The read models continued from their checkpoints: every unit sold is counted once.
    let top = app.get_at("/v1/reports/top-products", &token, last).await;
    let units: i64 = top["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["units_sold"].as_i64().unwrap())
        .sum();
    assert_eq!(units, 150 + seen.orders.len() as i64);
    let after = app.stats(&id).await;
    assert_eq!(
        after["projections"]["generation"], generation,
        "no rebuild: {after}"
    );
    assert_eq!(after["projections"]["dead_letters"], 0, "{after}");
    // The key moved with the tenant.
    let replay = app
        .call(
            Method::POST,
            "/v1/products",
            &token,
            Some(keyed),
            &[("idempotency-key", "before-the-move")],
        )
        .await;
    assert_eq!(replay.body["id"], first["id"], "{}", replay.body);

    // The source database is dropped after the grace period.
    let deadline = Instant::now() + Duration::from_secs(30);
    while databases(&testkit::mongodb_uri()).await.contains(&database) {
        assert!(Instant::now() < deadline, "the source database was kept");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let view = app
        .admin_json(Method::GET, &format!("/admin/tenants/{id}/move"), None)
        .await
        .expect(StatusCode::OK);
    assert!(view["source_dropped_at"].is_string(), "{view}");
    assert!(databases(&eu_uri).await.contains(&database));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dedicated_tenant_moves_bad_moves_are_refused_and_its_deletion_leaves_nothing() {
    let Some((app, _eu, eu_uri)) = two_clusters(Duration::from_secs(3600)).await else {
        return;
    };
    let id = app.new_tenant_id();
    app.create_tenant_with(json!({"id": id, "name": "Dedicated", "isolation": "dedicated"}))
        .await;
    let token = app.token(&id, &["member"]);
    let path = format!("/admin/tenants/{id}/move");
    app.admin_json(Method::GET, &path, None)
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    app.admin_json(Method::POST, &path, Some(json!({"cluster": "default"})))
        .await
        .problem(StatusCode::CONFLICT, "invalid_tenant_state");
    let unknown = app
        .admin_json(Method::POST, &path, Some(json!({"cluster": "mars"})))
        .await
        .problem(StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(unknown["errors"][0]["field"], "cluster", "{unknown}");
    app.admin_json(Method::POST, &path, Some(json!({})))
        .await
        .problem(StatusCode::BAD_REQUEST, "validation_failed");

    let (before, _) = app.product(&token, "BEFORE", "Before", 1, 1).await;
    app.admin_json(Method::POST, &path, Some(json!({"cluster": "eu"})))
        .await
        .expect(StatusCode::ACCEPTED);
    assert_eq!(finished_move(&app, &id).await["state"], "done");
    let (after, position) = app.product(&token, "AFTER", "After", 1, 1).await;
    let listed = app.products_at(&token, position).await;
    let skus: BTreeSet<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["sku"].as_str().unwrap())
        .collect();
    assert_eq!(skus, BTreeSet::from(["AFTER", "BEFORE"]));
    // The new write went to the new cluster, through the tenant's own client there.
    let database = app.database_of(&id).await;
    let on_eu = mongodb::Client::with_uri_str(&eu_uri)
        .await
        .unwrap()
        .database(&database)
        .collection::<Document>("products")
        .count_documents(doc! {"_id": {"$in": [before["id"].as_str(), after["id"].as_str()]}})
        .await
        .unwrap();
    assert_eq!(on_eu, 2);
    // The source is kept (fenced) during the grace period: another move must wait for it.
    assert!(databases(&testkit::mongodb_uri()).await.contains(&database));
    app.admin_json(Method::POST, &path, Some(json!({"cluster": "default"})))
        .await
        .problem(StatusCode::CONFLICT, "move_in_progress");

    // Deleted during the grace period: nothing of it is left on either cluster, nor its move.
    let moves = crate::support::mongo()
        .await
        .database(&app.catalog_db)
        .collection::<Document>("moves");
    let key = doc! {"tenant_id": &id};
    assert_eq!(moves.count_documents(key.clone()).await.unwrap(), 1);
    app.delete_tenant_and_wait(&id).await;
    assert!(!databases(&testkit::mongodb_uri()).await.contains(&database));
    assert!(!databases(&eu_uri).await.contains(&database));
    assert_eq!(moves.count_documents(key).await.unwrap(), 0);
}

/// A moved tenant's deletion, in its move's grace period, dies (`kill -9` at a failure point)
/// before and after it dropped the kept source: the restarted instance finishes it, and neither
/// cluster keeps the tenant's database, nor the catalog its move.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moved_tenants_deletion_killed_before_or_after_its_source_is_dropped_leaves_nothing() {
    let Some((_eu, eu_uri)) = second_cluster() else {
        return;
    };
    for point in ["deletion.after_drop", "deletion.before_remove"] {
        let fleet = fleet_with_eu(
            &eu_uri,
            &[
                ("TENANTRY_MOVE_GRACE_SECS", "3600"),
                ("TENANTRY_LEASE_SECS", "2"),
            ],
        );
        let crashing = fleet
            .start_with("crashing", &[("TENANTRY_FAILPOINTS", point)])
            .await;
        let (id, token) = crashing.tenant_and_token().await;
        crashing.product(&token, 10).await;
        start_move(&crashing, &id).await;
        completed_move(&crashing, &id, point).await;
        let tenant = crashing
            .admin_json(Method::GET, &format!("/admin/tenants/{id}"), None)
            .await
            .expect(StatusCode::OK);
        let database = tenant["database"].as_str().unwrap().to_string();
        let default_uri = testkit::mongodb_uri();
        assert!(
            databases(&default_uri).await.contains(&database),
            "{point}: kept"
        );

        let _ = crashing
            .admin(Method::DELETE, &format!("/admin/tenants/{id}"))
            .send()
            .await;
        assert!(
            crashing.wait_exit(Duration::from_secs(30)),
            "{point}: the process did not crash (log {})",
            crashing.log.display()
        );
        let restarted = fleet.start("restarted").await;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let call = restarted
                .admin_json(Method::GET, &format!("/admin/tenants/{id}"), None)
                .await;
            if call.status == StatusCode::NOT_FOUND {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{point}: the deletion was not finished (log {})",
                restarted.log.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            !databases(&default_uri).await.contains(&database),
            "{point}"
        );
        assert!(!databases(&eu_uri).await.contains(&database), "{point}");
        let moves = crate::support::mongo()
            .await
            .database(&fleet.catalog_db)
            .collection::<Document>("moves");
        let left = moves
            .count_documents(doc! {"tenant_id": &id})
            .await
            .unwrap();
        assert_eq!(left, 0, "{point}: the move's record is left");
        restarted.stop();
    }
}

/// The instance running a move dies (`kill -9` at a failure point) in each phase (and after a
/// late cut-over gave the writes back): the tenant
/// keeps serving from one cluster with all its data, and another instance takes the move over
/// (once the dead runner's heartbeat is a lease time old) and completes it; the tenant's event
/// sequence continues without a gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_is_completed_by_another_instance_after_its_runner_dies_in_any_phase() {
    let Some((_eu, eu_uri)) = second_cluster() else {
        return;
    };
    for point in [
        "move.copying",
        "move.catching_up",
        "move.cutting_over",
        // Between a late cut-over's release of the writes and the next cut-over.
        "move.cut_over_late=fail,move.released",
        "move.after_switch",
    ] {
        let fleet = fleet_with_eu(&eu_uri, &[("TENANTRY_LEASE_SECS", "2")]);
        let doomed = fleet
            .start_with("doomed", &[("TENANTRY_FAILPOINTS", point)])
            .await;
        let (id, token) = doomed.tenant_and_token().await;
        let product = doomed.product(&token, 1000).await;
        let order = json!({"customer": {"id": "c", "name": "C"}, "lines": [{"product_id": product, "qty": 2}]});
        let mut positions = Vec::new();
        for _ in 0..20 {
            let placed = doomed
                .call(Method::POST, "/v1/orders", &token, Some(order.clone()), &[])
                .await
                .expect("an answer");
            positions.push(placed.position());
            placed.expect(StatusCode::CREATED);
        }
        let stride = positions[1] - positions[0];
        start_move(&doomed, &id).await;
        assert!(
            doomed.wait_exit(Duration::from_secs(20)),
            "{point}: the runner did not reach its failure point"
        );

        let survivor = fleet.start("survivor").await;
        // Reads are served throughout (from whichever cluster the catalog names), at the
        // position of the last order (the dead runner may not have projected all of it).
        let product_path = format!("/v1/products/{product}");
        read_at(&survivor, &product_path, &token, positions[19], point).await;
        let done = completed_move(&survivor, &id, point).await;
        if point != "move.after_switch" {
            assert!(done["attempts"].as_i64() >= Some(2), "{point}: {done}");
        }
        let tenant = survivor
            .admin_json(Method::GET, &format!("/admin/tenants/{id}"), None)
            .await
            .expect(StatusCode::OK);
        assert_eq!(tenant["cluster"], "eu", "{point}");
        // Nothing lost: the next command takes the next position, on the new cluster, and the
        // read models (continued from their checkpoints) count every order once.
        let next = survivor
            .call(Method::POST, "/v1/orders", &token, Some(order.clone()), &[])
            .await
            .expect("an answer");
        assert_eq!(next.status, StatusCode::CREATED, "{point}: {}", next.body);
        assert_eq!(
            next.position(),
            positions[19] + stride,
            "{point}: gap-free, nothing doubled"
        );
        let min = next.position();
        let stock = read_at(&survivor, &product_path, &token, min, point).await["stock"].clone();
        assert_eq!(stock, 1000 - 21 * 2, "{point}");
        let top = read_at(&survivor, "/v1/reports/top-products", &token, min, point).await;
        assert_eq!(top["items"][0]["units_sold"], 42, "{point}: {top}");
        let database = tenant["database"].as_str().unwrap();
        assert!(databases(&eu_uri).await.iter().any(|d| d == database));
        survivor.stop();
    }
}

/// A read once the instance's projections have reached `position` (a freshly started instance
/// takes the dead one's projection leases over first: retried until then, within 30 s).
pub(crate) async fn read_at(
    server: &crate::process::Server,
    path: &str,
    token: &str,
    position: i64,
    point: &str,
) -> Value {
    let min = position.to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let call = server
            .call(Method::GET, path, token, None, &[("x-min-position", &min)])
            .await
            .expect("an answer");
        if call.status == StatusCode::OK {
            return call.body;
        }
        assert!(
            call.body["code"] == "projection_lagging" && Instant::now() < deadline,
            "{point}: {path} at {position}: {} {}",
            call.status,
            call.body
        );
    }
}

/// A runner that was only paused (a long GC pause, a frozen VM), not dead, wakes up after another
/// instance took its move over: it must not touch the source's fences any more. Here it wakes
/// just before it would hold the source's writes, while its successor is in the middle of the
/// copy: the source keeps taking writes, and the successor's move loses none of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_runner_woken_after_a_take_over_leaves_the_source_alone() {
    let Some((_eu, eu_uri)) = second_cluster() else {
        return;
    };
    let fleet = fleet_with_eu(&eu_uri, &[("TENANTRY_LEASE_SECS", "2")]);
    let paused = fleet
        .start_with(
            "paused",
            &[("TENANTRY_FAILPOINTS", "move.before_hold=stop")],
        )
        .await;
    let (id, token) = paused.tenant_and_token().await;
    let product = paused.product(&token, 1000).await;
    let order =
        json!({"customer": {"id": "c", "name": "C"}, "lines": [{"product_id": product, "qty": 2}]});
    let place = |server| place_order(server, &token, &order);
    let first = place(&paused).await;
    let stride = place(&paused).await - first;

    start_move(&paused, &id).await;
    wait_stopped(&paused, "the runner did not reach the cut-over");
    let successor = fleet
        .start_with("successor", &[("TENANTRY_FAILPOINTS", "move.copying=stop")])
        .await;
    wait_stopped(&successor, "the successor did not take the move over");

    paused.resume();
    let deadline = Instant::now() + Duration::from_secs(20);
    let logs = loop {
        let logs = paused.logs();
        if let Some(end) = logs
            .iter()
            .position(|l| l.contains("another instance took the move over"))
        {
            break logs[..end].to_vec();
        }
        assert!(
            Instant::now() < deadline,
            "the woken runner did not stop: {logs:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        !logs
            .iter()
            .any(|l| l.contains("the source's writes are held")),
        "the woken runner held the source's writes"
    );
    // The source's fences are live: a write commits there now, while the successor is stopped.
    let during = place(&paused).await;
    assert_eq!(during, first + 2 * stride);

    successor.resume();
    completed_move(&successor, &id, "after the successor resumed").await;
    let tenant = successor
        .admin_json(Method::GET, &format!("/admin/tenants/{id}"), None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(tenant["cluster"], "eu");
    // The write made during the copy moved with the tenant: the sequence goes on after it.
    let after = place(&successor).await;
    assert_eq!(after, during + stride, "gap-free, nothing lost or doubled");
    let stock = read_at(
        &successor,
        &format!("/v1/products/{product}"),
        &token,
        after,
        "after",
    )
    .await["stock"]
        .clone();
    assert_eq!(stock, 1000 - 4 * 2);
    paused.stop();
    successor.stop();
}

/// Polls the tenant's move through `server` until it is done (a failed move fails the test).
pub(crate) async fn completed_move(server: &crate::process::Server, id: &str, what: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let view = server
            .admin_json(Method::GET, &format!("/admin/tenants/{id}/move"), None)
            .await
            .expect(StatusCode::OK);
        if view["state"] == "done" {
            return view;
        }
        assert!(
            view["state"] != "failed" && Instant::now() < deadline,
            "{what}: the move was not completed: {view}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Places the order through `server`; its position.
async fn place_order(server: &crate::process::Server, token: &str, order: &Value) -> i64 {
    let placed = server
        .call(Method::POST, "/v1/orders", token, Some(order.clone()), &[])
        .await
        .expect("an answer");
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.body);
    placed.position()
}

/// Waits until the server's process is stopped (SIGSTOP by a `=stop` failure point).
pub(crate) fn wait_stopped(server: &crate::process::Server, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !server.is_stopped() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Records of finished moves whose incarnation is gone (left by versions that kept them) are
/// removed by an instance's first move sweep; the last move of a live incarnation is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_of_deleted_incarnations_moves_are_removed() {
    let app = TestApp::spawn().await;
    let id = app.create_tenant().await;
    let catalog = crate::support::mongo().await.database(&app.catalog_db);
    let record = catalog
        .collection::<Document>("tenants")
        .find_one(doc! {"_id": &id})
        .await
        .unwrap()
        .unwrap();
    let live = format!("{id}@{}", record.get_str("incarnation").unwrap());
    let moves = catalog.collection::<Document>("moves");
    let now = mongodb::bson::DateTime::now();
    moves
        .insert_many([
            doc! {"_id": &live, "tenant_id": &id, "state": "failed"},
            doc! {"_id": format!("{id}@earlier"), "tenant_id": &id, "state": "failed"},
            doc! {"_id": "deleted@earlier", "tenant_id": "deleted", "state": "done", "source_dropped_at": now},
        ])
        .await
        .unwrap();
    let _fresh = TestApp::spawn_on_catalog_with(&app.catalog_db, |c| {
        c.lease = Duration::from_secs(1);
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while moves.count_documents(doc! {}).await.unwrap() > 1 {
        assert!(Instant::now() < deadline, "the orphaned records were kept");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let kept: Vec<Document> = moves
        .find(doc! {})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(kept[0].get_str("_id").unwrap(), live, "{kept:?}");
}
