//! A unique key (a product's sku) freed and taken again while the tenant is being moved: the
//! target may still hold it under the document the source has deleted since, so writing the new
//! holder fails there until the deletion is copied. The move must not fail on that.
//!
//! (The first copy can meet it too, on a server whose cursors see documents written behind them;
//! SecantusDB's cursors read one snapshot, so this test cannot make that happen.)

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use mongodb::bson::{Document, doc};
use reqwest::{Method, StatusCode};

use super::{completed_move, fleet_with_eu, second_cluster, start_move, wait_stopped};
use crate::process::Server;

/// Products seeded past the copy's batch of 1,000 documents.
const SEEDED: usize = 1500;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unique_key_freed_and_taken_again_during_a_move_does_not_fail_it() {
    let Some((_eu, eu_uri)) = second_cluster() else {
        return;
    };
    let fleet = fleet_with_eu(
        &eu_uri,
        &[
            // The runner is stopped twice below: no take-over of its own move when it resumes.
            ("TENANTRY_LEASE_SECS", "30"),
        ],
    );
    let server = fleet
        .start_with(
            "mover",
            &[(
                "TENANTRY_FAILPOINTS",
                "move.copying=stop,move.catching_up=stop",
            )],
        )
        .await;
    let (id, token) = server.tenant_and_token().await;
    server.product(&token, 1).await;
    let tenant = server
        .admin_json(Method::GET, &format!("/admin/tenants/{id}"), None)
        .await
        .expect(StatusCode::OK);
    let database = tenant["database"].as_str().unwrap().to_string();
    let source = mongodb::Client::with_uri_str(testkit::mongodb_uri())
        .await
        .unwrap()
        .database(&database)
        .collection::<Document>("products");
    // Products written straight into the database, shaped like the one the API wrote.
    let shape = source.find_one(doc! {}).await.unwrap().unwrap();
    let product = |id: &str, sku: &str| {
        let mut p = shape.clone();
        p.insert("_id", id);
        p.insert("sku", sku);
        p
    };
    let seeded: Vec<Document> = (0..SEEDED)
        .map(|i| product(&format!("p-{i:05}"), &format!("sku-{i:05}")))
        .collect();
    source.insert_many(seeded).await.unwrap();

    start_move(&server, &id).await;

    // 1. The first copy has begun (its first collection, `_meta`, is copied): 300 products
    //    change, so that the catch-up's first round is not its last.
    stopped_at(&server, "move.copying");
    source
        .update_many(
            doc! {"_id": {"$lt": "p-00300"}},
            doc! {"$set": {"name": "renamed"}},
        )
        .await
        .unwrap();
    server.resume();

    // 2. After the catch-up's first round: p-01200 (copied) is deleted and `a-2` takes its sku;
    //    every product changes, so the next round spans two chunks of 1,000 keys, `a-2` in the
    //    first and the deletion of p-01200 in the second.
    stopped_at(&server, "move.catching_up");
    source.delete_one(doc! {"_id": "p-01200"}).await.unwrap();
    source
        .insert_one(product("a-2", "sku-01200"))
        .await
        .unwrap();
    source
        .update_many(doc! {}, doc! {"$set": {"name": "renamed again"}})
        .await
        .unwrap();
    server.resume();

    let done = completed_move(&server, &id, "a unique key taken again").await;
    assert_eq!(done["attempts"], 1, "no take-over, no new attempt: {done}");
    let logs = server.logs();
    let said = |what: &str| logs.iter().any(|l| l.contains(what));
    assert!(
        said("unique key was taken on the target are written again after the others"),
        "no catch-up round met the taken sku (log {})",
        server.log.display()
    );
    assert!(
        !said("move: the copy differs"),
        "the copy needed a repair (log {})",
        server.log.display()
    );
    let target = mongodb::Client::with_uri_str(&eu_uri)
        .await
        .unwrap()
        .database(&database)
        .collection::<Document>("products");
    let on_target = skus(&target).await;
    assert_eq!(on_target, skus(&source).await);
    assert_eq!(on_target.len(), SEEDED + 1);
    assert_eq!(on_target["a-2"], "sku-01200");
    assert!(!on_target.contains_key("p-01200"));
    server.stop();
}

/// Waits until the server has stopped itself at the failure point `point`.
fn stopped_at(server: &Server, point: &str) {
    let said = format!("failpoint {point} reached: stopping");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !server.logs().iter().any(|l| l.contains(&said)) {
        assert!(
            Instant::now() < deadline,
            "{point} was not reached (log {})",
            server.log.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    wait_stopped(server, point);
}

/// Every product's sku, by `_id`.
async fn skus(products: &mongodb::Collection<Document>) -> BTreeMap<String, String> {
    let all: Vec<Document> = products
        .find(doc! {})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    all.iter()
        .map(|p| {
            let id = p.get_str("_id").unwrap().to_string();
            (id, p.get_str("sku").unwrap().to_string())
        })
        .collect()
}
