//! A cut-over whose last round is late: the source's writes are released instead of waiting for
//! a lagging change stream, the catch-up goes on, and the next cut-over completes the move.

use std::sync::atomic::{AtomicBool, Ordering};

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{completed_move, move_to_eu, read_at, second_cluster};
use crate::process::Fleet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_cut_over_releases_the_writes_and_the_next_one_completes_the_move() {
    let Some((_eu, eu_uri)) = second_cluster() else {
        return;
    };
    let clusters = format!("eu={eu_uri}");
    let fleet = Fleet::new(&[("TENANTRY_CLUSTERS", clusters.as_str())]);
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

    // Orders run through the whole move; every one must be answered 201 (writes wait at a
    // cut-over, they never fail).
    let stop = AtomicBool::new(false);
    let writer = async {
        let mut positions = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let placed = server
                .call(Method::POST, "/v1/orders", &token, Some(order.clone()), &[])
                .await
                .expect("an answer");
            assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.body);
            positions.push(placed.position());
        }
        positions
    };
    let mover = async {
        let (method, path, body) = move_to_eu(&id);
        server
            .admin_json(method, &path, body)
            .await
            .expect(StatusCode::ACCEPTED);
        let done = completed_move(&server, &id, "late cut-over").await;
        stop.store(true, Ordering::Relaxed);
        done
    };
    let (positions, done) = tokio::join!(writer, mover);

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
    let (first, last) = (positions[0], positions[positions.len() - 1]);
    let stride = (last - first) / (positions.len() as i64 - 1).max(1);
    assert_eq!(next.position(), last + stride, "gap-free, nothing doubled");
    let placed = positions.len() as i64 + 1;
    let path = format!("/v1/products/{product}");
    let stock =
        read_at(&server, &path, &token, next.position(), "late cut-over").await["stock"].clone();
    assert_eq!(stock, 100_000 - 2 * placed);
    server.stop();
}
