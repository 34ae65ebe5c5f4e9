//! Pooling (README, "Architecture"): one shared pool per cluster, per-tenant budgets, bounded dedicated
//! pools. Driven through `ClusterPools::tenant_db` (the request path's door to tenant data) with
//! real queries against the test database; connection counts come from the driver's pool events.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use mongodb::bson::{Document, doc};
use tenancy::{Isolation, Tenant, TenantContext};

use crate::support::TestApp;

fn tenant(isolation: Isolation) -> Arc<Tenant> {
    Arc::new(Tenant {
        name: "pool test".into(),
        isolation,
        schema_version: tenantry_api::platform::schema().latest_version(),
        ..Tenant::sample(&testkit::unique_name("p"))
    })
}

/// Runs `queries` point reads spread over `tenants`, `concurrency` at a time; all must succeed.
async fn load(app: &TestApp, tenants: &[Arc<Tenant>], queries: usize, concurrency: usize) {
    let pools = app.state.pools.clone();
    let results: Vec<Result<(), String>> = futures::stream::iter(0..queries)
        .map(|i| {
            let pools = pools.clone();
            let ctx = TenantContext::new(Arc::clone(&tenants[i % tenants.len()]), "load");
            async move {
                let db = pools.tenant_db(&ctx).await.map_err(|e| e.to_string())?;
                db.collection::<Document>("products")
                    .find_one(doc! {"_id": i as i64})
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(())
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let errors: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(
        errors.is_empty(),
        "{} failed, e.g. {:?}",
        errors.len(),
        errors.first()
    );
}

/// `requests` GET /v1/products spread over `tokens`, 24 at a time; all must succeed (empty lists:
/// these tenants have no data).
async fn read_products(app: &TestApp, tokens: &[(String, String)], requests: usize) {
    let statuses: Vec<reqwest::StatusCode> = futures::stream::iter(0..requests)
        .map(|i| {
            let (id, token) = &tokens[i % tokens.len()];
            async move {
                let call = app
                    .call(
                        reqwest::Method::GET,
                        "/v1/products?limit=5",
                        token,
                        None,
                        &[],
                    )
                    .await;
                assert!(
                    call.body["items"]
                        .as_array()
                        .is_some_and(|items| items.is_empty()),
                    "{id}: {}",
                    call.body
                );
                call.status
            }
        })
        .buffer_unordered(24)
        .collect()
        .await;
    assert!(statuses.iter().all(|s| s.is_success()), "{statuses:?}");
}

/// Over HTTP: 10 tenants, then 1,000, each request with its own tenant's token, reading its own
/// database. The shared pool's connections stay within its configured size.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connections_stay_flat_from_10_to_1000_tenants() {
    const MAX_POOL: i64 = 6;
    let app = TestApp::spawn_with(|c| {
        c.pools.max_pool_size = 6;
        c.pools.tenant_budget = 8;
    })
    .await;
    let tenants = app.insert_active_tenants(1000).await;
    let tokens: Vec<(String, String)> = tenants
        .iter()
        .map(|id| (id.clone(), app.token(id, &["viewer"])))
        .collect();
    let shared = || {
        app.state
            .pools
            .default_cluster()
            .unwrap()
            .gauges()
            .snapshot()
    };
    read_products(&app, &tokens[..10], 300).await;
    let at_10 = shared();
    read_products(&app, &tokens, 2000).await;
    let at_1000 = shared();

    assert!(at_10.open >= 1 && at_10.open <= MAX_POOL, "{at_10:?}");
    assert!(
        at_1000.open <= MAX_POOL,
        "connections grew past the pool size: {at_1000:?}"
    );
    // Not merely recycled: 1,000 tenants opened no more connections than the pool holds
    // (plus the catalog's change stream and start-up work on the same cluster).
    assert!(at_1000.created_total <= MAX_POOL + 3, "{at_1000:?}");
    assert_eq!(app.state.pools.dedicated().created(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_over_its_budget_waits_then_is_refused() {
    let app = TestApp::spawn_with(|c| {
        c.pools.tenant_budget = 2;
        c.pools.budget_wait = Duration::from_millis(100);
    })
    .await;
    let pools = &app.state.pools;
    let busy = TenantContext::new(tenant(Isolation::Shared), "busy");
    let calm = TenantContext::new(tenant(Isolation::Shared), "calm");
    let first = pools.tenant_db(&busy).await.unwrap();
    let _second = pools.tenant_db(&busy).await.unwrap();
    let started = std::time::Instant::now();
    let refused = pools.tenant_db(&busy).await;
    assert!(
        matches!(refused, Err(tenancy::TenancyError::BudgetExhausted(_))),
        "{refused:?}"
    );
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(90),
        "it waited first"
    );
    assert_eq!(pools.budgets().rejections(), 1);
    let metrics = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let series = format!(
        "tenantry_tenant_budget_rejections_total{{tenant=\"{}\"}} 1",
        busy.tenant_id()
    );
    assert!(metrics.lines().any(|l| l == series), "{series} missing");
    // Another tenant is not affected; a released slot is reusable.
    pools.tenant_db(&calm).await.unwrap();
    drop(first);
    pools.tenant_db(&busy).await.unwrap();
    // A per-tenant limit overrides the default.
    let mut roomy = (*tenant(Isolation::Shared)).clone();
    roomy.limits.max_concurrent_requests = Some(3);
    let roomy = TenantContext::new(Arc::new(roomy), "roomy");
    let held: Vec<_> = futures::future::join_all((0..3).map(|_| pools.tenant_db(&roomy))).await;
    assert!(held.iter().all(Result::is_ok));
    assert!(pools.tenant_db(&roomy).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dedicated_clients_are_bounded_and_evicted_under_load() {
    let app = TestApp::spawn_with(|c| {
        c.pools.dedicated_max_clients = 2;
        c.pools.dedicated_pool_size = 2;
    })
    .await;
    let dedicated = app.state.pools.dedicated().clone();
    let tenants: Vec<Arc<Tenant>> = (0..6).map(|_| tenant(Isolation::Dedicated)).collect();

    // Let the catalog's own start-up work (indexes, change stream) settle on the shared pool.
    let catalog_ready = reqwest::get(app.url("/readyz")).await.unwrap();
    assert!(catalog_ready.status().is_success());
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let shared_before = app
        .state
        .pools
        .default_cluster()
        .unwrap()
        .gauges()
        .snapshot()
        .created_total;
    // A request in flight on the first tenant's dedicated client...
    let held_ctx = TenantContext::new(Arc::clone(&tenants[0]), "held");
    let held = app.state.pools.tenant_db(&held_ctx).await.unwrap();
    // ...while load over all six forces evictions.
    for _ in 0..3 {
        load(&app, &tenants, 120, 12).await;
    }
    assert!(dedicated.cached().await <= 2, "cache exceeds its bound");
    assert!(dedicated.evicted() >= 4, "evicted {}", dedicated.evicted());
    assert!(dedicated.created() >= 6, "created {}", dedicated.created());
    // The evicted client was not closed under the in-flight request.
    held.collection::<Document>("products")
        .find_one(doc! {})
        .await
        .unwrap();
    // Dedicated tenants never touch the shared pool (which the catalog also uses).
    let shared_after = app
        .state
        .pools
        .default_cluster()
        .unwrap()
        .gauges()
        .snapshot()
        .created_total;
    assert_eq!(shared_after, shared_before, "the shared pool grew");
    // Every dedicated pool stays within its size: once evicted clients have closed their
    // connections (the driver does that in the background), at most six pools of two.
    let per_client = 2;
    let mut open = dedicated.gauges().snapshot().open;
    for _ in 0..50 {
        if open <= per_client * 6 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        open = dedicated.gauges().snapshot().open;
    }
    assert!(open <= per_client * 6, "{open}");
}
