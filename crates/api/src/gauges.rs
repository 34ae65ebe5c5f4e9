//! The gauges read at scrape time (`GET /metrics`): pools, dedicated clients, the projector, the
//! fleet, the catalog cache and the identity providers' keys, from the services themselves.

use crate::state::AppState;

/// Sets every scrape-time gauge from the services' current state.
pub async fn refresh(state: &AppState) {
    for cluster in state.pools.clusters() {
        let pool = cluster.gauges().snapshot();
        let name = cluster.name.clone();
        metrics::gauge!("tenantry_pool_connections", "cluster" => name.clone(), "state" => "in_use").set(pool.in_use as f64);
        metrics::gauge!("tenantry_pool_connections", "cluster" => name.clone(), "state" => "idle")
            .set(pool.idle as f64);
        metrics::gauge!("tenantry_pool_waiting", "cluster" => name.clone())
            .set(pool.waiting as f64);
        metrics::counter!("tenantry_pool_connections_created_total", "cluster" => name)
            .absolute(pool.created_total.max(0) as u64);
    }
    let dedicated = state.pools.dedicated();
    let pool = dedicated.gauges().snapshot();
    metrics::gauge!("tenantry_dedicated_clients").set(dedicated.cached().await as f64);
    metrics::gauge!("tenantry_dedicated_connections", "state" => "in_use").set(pool.in_use as f64);
    metrics::gauge!("tenantry_dedicated_connections", "state" => "idle").set(pool.idle as f64);
    metrics::counter!("tenantry_dedicated_client_evictions_total").absolute(dedicated.evicted());
    let projector = state.projector.counters();
    metrics::counter!("tenantry_projection_events_applied_total")
        .absolute(projector.events_applied);
    metrics::counter!("tenantry_projection_dead_letters_total").absolute(projector.dead_letters);
    metrics::gauge!("tenantry_projection_delay_seconds").set(projector.last_delay.as_secs_f64());
    metrics::gauge!("tenantry_projection_pending_tenants").set(projector.pending_tenants as f64);
    // Age of the oldest event this instance has yet to apply: grows while a projector is stuck.
    for (cluster, lag) in state.projector.lag() {
        metrics::gauge!("tenantry_projection_lag_seconds", "cluster" => cluster.clone())
            .set(lag.seconds);
        metrics::gauge!("tenantry_projection_lag_events", "cluster" => cluster)
            .set(lag.events as f64);
    }
    metrics::gauge!("tenantry_fleet_partitions_held")
        .set(state.fleet.ownership().partitions().len() as f64);
    metrics::gauge!("tenantry_catalog_cached_tenants").set(state.catalog.len() as f64);
    for set in state.oidc.key_sets() {
        let age = set.age.map_or(-1.0, |a| a.as_secs_f64());
        metrics::gauge!("tenantry_oidc_keys_age_seconds", "issuer" => set.issuer.clone()).set(age);
        metrics::gauge!("tenantry_oidc_keys", "issuer" => set.issuer.clone()).set(set.keys as f64);
        metrics::gauge!("tenantry_oidc_keys_stale", "issuer" => set.issuer)
            .set(if set.last_error.is_some() { 1.0 } else { 0.0 });
    }
}
