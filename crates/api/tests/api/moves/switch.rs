//! The switch is one catalog transaction, and the runner's heartbeat writes the same move record
//! while it runs: a heartbeat in the middle makes the transaction conflict, and it runs again
//! (before, the move failed at its very last step). A switch that committed is never undone,
//! even when its answer was an error.

use reqwest::{Method, StatusCode};

use super::{completed_move, fleet_with_eu, read_at, second_cluster, start_move};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_switch_that_conflicts_with_the_runners_heartbeat_runs_again() {
    let Some((_eu, eu_uri)) = second_cluster() else {
        return;
    };
    // A heartbeat every half second (a quarter of the lease) lands in the second the switch
    // waits between its two writes.
    let fleet = fleet_with_eu(&eu_uri, &[("TENANTRY_LEASE_SECS", "2")]);
    let server = fleet
        .start_with("mover", &[("TENANTRY_FAILPOINTS", "move.switching=delay")])
        .await;
    let (id, token) = server.tenant_and_token().await;
    let product = server.product(&token, 7).await;
    let retries = || async {
        let text = reqwest::get(server.url("/metrics"))
            .await
            .expect("/metrics")
            .text()
            .await
            .expect("metrics text");
        crate::support::metric(&text, "tenantry_transaction_retries_total")
    };
    let before = retries().await;

    start_move(&server, &id).await;
    let done = completed_move(&server, &id, "a switch with a heartbeat inside").await;

    assert_eq!(done["attempts"], 1, "no take-over, no new attempt: {done}");
    assert!(
        server
            .logs()
            .iter()
            .any(|l| l.contains("failpoint move.switching reached")),
        "the switch did not wait (log {})",
        server.log.display()
    );
    assert!(
        retries().await > before,
        "the switch did not conflict with the heartbeat, so this test proves nothing"
    );
    let tenant = server
        .admin_json(Method::GET, &format!("/admin/tenants/{id}"), None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(tenant["cluster"], "eu");
    let read = read_at(
        &server,
        &format!("/v1/products/{product}"),
        &token,
        1,
        "after",
    )
    .await;
    assert_eq!(read["stock"], 7);
    server.stop();
}

/// The switch commits but its answer is lost (a failure point answers an error after the
/// commit): the move is finished, not undone. Undoing it would reopen the source, which no
/// request reaches any more, and drop the target, the tenant's only live copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_switch_whose_answer_is_lost_is_finished_not_undone() {
    let Some((_eu, eu_uri)) = second_cluster() else {
        return;
    };
    let fleet = fleet_with_eu(&eu_uri, &[]);
    let server = fleet
        .start_with(
            "mover",
            &[("TENANTRY_FAILPOINTS", "move.switch_answer_lost=fail")],
        )
        .await;
    let (id, token) = server.tenant_and_token().await;
    let product = server.product(&token, 7).await;
    start_move(&server, &id).await;
    let done = completed_move(&server, &id, "a switch whose answer was lost").await;

    assert_eq!(done["attempts"], 1, "no take-over, no new attempt: {done}");
    assert!(
        server
            .logs()
            .iter()
            .any(|l| l.contains("switch committed though its answer was an error")),
        "the lost answer was not met (log {})",
        server.log.display()
    );
    let tenant = server
        .admin_json(Method::GET, &format!("/admin/tenants/{id}"), None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(tenant["cluster"], "eu");
    // The target serves: a new order takes stock from the product the move carried over.
    let order = serde_json::json!({"customer": {"id": "c", "name": "C"}, "lines": [{"product_id": product, "qty": 1}]});
    let placed = server
        .call(Method::POST, "/v1/orders", &token, Some(order), &[])
        .await
        .expect("an answer");
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.body);
    let path = format!("/v1/products/{product}");
    let read = read_at(&server, &path, &token, placed.position(), "after").await;
    assert_eq!(read["stock"], 6);
    server.stop();
}
