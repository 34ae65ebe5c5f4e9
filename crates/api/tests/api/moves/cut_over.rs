//! A cut-over whose last round is late: the source's writes are released instead of waiting for
//! a lagging change stream, the catch-up goes on, and the next cut-over completes the move.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::TryStreamExt;
use mongodb::bson::{Document, doc};
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{completed_move, fleet_with_eu, gap_free_outbox, read_at, second_cluster, start_move};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_cut_over_releases_the_writes_and_the_next_one_completes_the_move() {
    let Some((_eu, eu_uri)) = second_cluster() else {
        return;
    };
    let fleet = fleet_with_eu(&eu_uri, &[]);
    let server = fleet
        .start_with(
            "mover",
            &[("TENANTRY_FAILPOINTS", "move.cut_over_late=fail")],
        )
        .await;
    let (id, token) = server.tenant_and_token().await;
    let product = server.product(&token, 100_000).await;
    let order =
        json!({"customer": {"id": "c", "name": "C"}, "lines": [{"product_id": product, "qty": 2}]});

    // Four writers place and fulfil orders through the whole move; every write must succeed
    // (writes wait at a cut-over, they never fail). A fulfilment is the last write of its order:
    // one that the late cut-over's round read from the stream must still reach the target.
    let stop = AtomicBool::new(false);
    let writer = || async {
        let mut positions = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let placed = server
                .call(Method::POST, "/v1/orders", &token, Some(order.clone()), &[])
                .await
                .expect("an answer");
            assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.body);
            positions.push(placed.position());
            let fulfil = format!("/v1/orders/{}/fulfil", placed.body["id"].as_str().unwrap());
            let fulfilled = server
                .call(Method::POST, &fulfil, &token, None, &[])
                .await
                .expect("an answer");
            assert_eq!(fulfilled.status, StatusCode::OK, "{}", fulfilled.body);
            positions.push(fulfilled.position());
        }
        positions
    };
    let writers = futures::future::join_all((0..4).map(|_| writer()));
    let mover = async {
        start_move(&server, &id).await;
        let done = completed_move(&server, &id, "late cut-over").await;
        stop.store(true, Ordering::Relaxed);
        done
    };
    let (positions, done) = tokio::join!(writers, mover);
    let positions: Vec<i64> = positions.into_iter().flatten().collect();

    assert_eq!(done["attempts"], 1, "no take-over, no new attempt: {done}");
    let logs = server.logs();
    assert!(
        logs.iter()
            .any(|l| l.contains("the source's writes are released, catching up again")),
        "the late cut-over was not retried (log {})",
        server.log.display()
    );
    let holds = logs
        .iter()
        .filter(|l| l.contains("move: the source's writes are held"))
        .count();
    assert!(holds >= 2, "the late cut-over and the next: {holds}");
    // The changes the late round had read were copied by the next: the verification found
    // nothing to repair (a repair copies whole collections again, and would hide a loss).
    assert!(
        !logs.iter().any(|l| l.contains("move: the copy differs")),
        "the late round's changes were lost and repaired (log {})",
        server.log.display()
    );
    let tenant = server
        .admin_json(Method::GET, &format!("/admin/tenants/{id}"), None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(tenant["cluster"], "eu");
    // Nothing acknowledged is lost: the stock on the new cluster counts every order, and the
    // next one takes the next position.
    let next = server
        .call(Method::POST, "/v1/orders", &token, Some(order.clone()), &[])
        .await
        .expect("an answer");
    assert_eq!(next.status, StatusCode::CREATED, "{}", next.body);
    // Each acknowledged write has a position of its own, and the outbox on the target runs
    // 1..=n without a gap, the next order last.
    let acknowledged: BTreeSet<i64> = positions.iter().copied().collect();
    assert_eq!(acknowledged.len(), positions.len(), "one position each");
    let database = tenant["database"].as_str().unwrap();
    let target = mongodb::Client::with_uri_str(&eu_uri).await.unwrap();
    let n = gap_free_outbox(&target.database(database)).await;
    assert_eq!(next.position(), n, "the next order's events are the last");
    let placed = positions.len() as i64 / 2 + 1;
    let path = format!("/v1/products/{product}");
    let stock =
        read_at(&server, &path, &token, next.position(), "late cut-over").await["stock"].clone();
    assert_eq!(stock, 100_000 - 2 * placed);
    // Every order the source (kept for the grace period) has fulfilled is fulfilled on the
    // target too: no write read by the late round was dropped.
    let fulfilled_on = |uri: String| async move {
        let orders = mongodb::Client::with_uri_str(&uri)
            .await
            .unwrap()
            .database(database)
            .collection::<Document>("orders");
        let ids: Vec<Document> = orders
            .find(doc! {"status": "fulfilled"})
            .projection(doc! {"_id": 1})
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        ids.iter()
            .map(|d| d.get_str("_id").unwrap().to_string())
            .collect::<BTreeSet<_>>()
    };
    let on_source = fulfilled_on(testkit::mongodb_uri()).await;
    let on_target = fulfilled_on(eu_uri.clone()).await;
    assert!(!on_source.is_empty());
    let lost: Vec<_> = on_source.difference(&on_target).collect();
    assert!(lost.is_empty(), "fulfilments lost in the move: {lost:?}");
    server.stop();
}
