//! Metrics, exported in the Prometheus text format at `/metrics`.
//!
//! Counters and histograms are recorded with the `metrics` facade (one process-wide recorder);
//! gauges of pools, budgets and the projector are read at scrape time. The `tenant` label is given
//! to the first `TENANTRY_METRICS_MAX_TENANTS` tenants seen; the others share `other` (requests
//! without a tenant have an empty one), so the number of series stays bounded however many
//! tenants there are.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use cqrs::{DispatchInfo, DispatchObserver, Outcome};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tenancy::TenantId;

use crate::state::AppState;

const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The tenant a response was served for (set by the resolution middleware).
#[derive(Debug, Clone)]
pub struct ServedTenant(pub TenantId);

#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
    tenant_labels: Arc<TenantLabels>,
}

impl Metrics {
    /// The process-wide recorder (installed on first use) with a tenant-label budget.
    pub fn new(max_tenant_labels: usize) -> Metrics {
        static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
        let handle = HANDLE.get_or_init(install).clone();
        Metrics {
            handle,
            tenant_labels: Arc::new(TenantLabels::new(max_tenant_labels)),
        }
    }

    pub fn tenant_label(&self, id: &TenantId) -> String {
        self.tenant_labels.label(id)
    }

    /// Refreshes the scrape-time gauges, then renders every metric.
    pub async fn render(&self, state: &AppState) -> String {
        for cluster in state.pools.clusters() {
            let pool = cluster.gauges().snapshot();
            let name = cluster.name.clone();
            metrics::gauge!("tenantry_pool_connections", "cluster" => name.clone(), "state" => "in_use").set(pool.in_use as f64);
            metrics::gauge!("tenantry_pool_connections", "cluster" => name.clone(), "state" => "idle").set(pool.idle as f64);
            metrics::gauge!("tenantry_pool_waiting", "cluster" => name.clone())
                .set(pool.waiting as f64);
            metrics::counter!("tenantry_pool_connections_created_total", "cluster" => name)
                .absolute(pool.created_total.max(0) as u64);
        }
        let dedicated = state.pools.dedicated();
        let pool = dedicated.gauges().snapshot();
        metrics::gauge!("tenantry_dedicated_clients").set(dedicated.cached().await as f64);
        metrics::gauge!("tenantry_dedicated_connections", "state" => "in_use")
            .set(pool.in_use as f64);
        metrics::gauge!("tenantry_dedicated_connections", "state" => "idle").set(pool.idle as f64);
        metrics::counter!("tenantry_dedicated_client_evictions_total")
            .absolute(dedicated.evicted());
        let projector = state.projector.counters();
        metrics::counter!("tenantry_projection_events_applied_total")
            .absolute(projector.events_applied);
        metrics::counter!("tenantry_projection_dead_letters_total")
            .absolute(projector.dead_letters);
        metrics::gauge!("tenantry_projection_delay_seconds")
            .set(projector.last_delay.as_secs_f64());
        metrics::gauge!("tenantry_projection_pending_tenants")
            .set(projector.pending_tenants as f64);
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
            metrics::gauge!("tenantry_oidc_keys_age_seconds", "issuer" => set.issuer.clone())
                .set(age);
            metrics::gauge!("tenantry_oidc_keys", "issuer" => set.issuer.clone())
                .set(set.keys as f64);
            metrics::gauge!("tenantry_oidc_keys_stale", "issuer" => set.issuer)
                .set(if set.last_error.is_some() { 1.0 } else { 0.0 });
        }
        self.handle.render()
    }
}

fn install() -> PrometheusHandle {
    let builder = PrometheusBuilder::new()
        .set_buckets(&LATENCY_BUCKETS)
        .unwrap_or_else(|_| PrometheusBuilder::new());
    let recorder = builder.build_recorder();
    let handle = recorder.handle();
    if metrics::set_global_recorder(recorder).is_err() {
        tracing::warn!("a metrics recorder was already installed; /metrics may be empty");
    }
    let upkeep = handle.clone();
    std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(5));
                upkeep.run_upkeep();
            }
        })
        .ok();
    handle
}

/// The first `max` tenants get their own label; the rest are `other`.
struct TenantLabels {
    max: usize,
    admitted: Mutex<HashSet<TenantId>>,
}

impl TenantLabels {
    fn new(max: usize) -> TenantLabels {
        TenantLabels {
            max,
            admitted: Mutex::new(HashSet::new()),
        }
    }

    fn label(&self, id: &TenantId) -> String {
        let Ok(mut admitted) = self.admitted.lock() else {
            return "other".into();
        };
        if admitted.contains(id) || (admitted.len() < self.max && admitted.insert(id.clone())) {
            id.to_string()
        } else {
            "other".into()
        }
    }
}

/// Counts every request and its latency by route, method, status and tenant.
pub async fn record_request(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_string();
    let response = next.run(request).await;
    // No tenant: an empty value, which Prometheus treats as no label, so the label has exactly
    // TENANTRY_METRICS_MAX_TENANTS named values and `other`.
    let tenant = response
        .extensions()
        .get::<ServedTenant>()
        .map_or_else(String::new, |t| state.metrics.tenant_label(&t.0));
    let labels = [
        ("route", route),
        ("method", method),
        ("status", response.status().as_u16().to_string()),
        ("tenant", tenant),
    ];
    metrics::counter!("tenantry_http_requests_total", &labels).increment(1);
    metrics::histogram!("tenantry_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Counts command and query dispatches by name and outcome, with their duration.
pub struct DispatchMetrics;

impl DispatchObserver for DispatchMetrics {
    fn observe(&self, info: &DispatchInfo<'_>, outcome: Outcome, elapsed: Duration) {
        let outcome = match outcome {
            Outcome::Ok => "ok",
            Outcome::Invalid => "invalid",
            Outcome::Failed => "failed",
        };
        let kind = info.kind.as_str();
        metrics::counter!("tenantry_cqrs_dispatch_total", "kind" => kind, "name" => info.name, "outcome" => outcome).increment(1);
        metrics::histogram!("tenantry_cqrs_dispatch_duration_seconds", "kind" => kind, "name" => info.name).record(elapsed.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_labels_are_bounded() {
        let labels = TenantLabels::new(2);
        let id = |s: &str| TenantId::parse(s).unwrap();
        assert_eq!(labels.label(&id("aaa")), "aaa");
        assert_eq!(labels.label(&id("bbb")), "bbb");
        assert_eq!(labels.label(&id("ccc")), "other");
        assert_eq!(labels.label(&id("aaa")), "aaa");
    }

    #[test]
    fn concurrent_tenants_get_exactly_the_bound() {
        let labels = Arc::new(TenantLabels::new(10));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let labels = Arc::clone(&labels);
                std::thread::spawn(move || {
                    (0..50)
                        .map(|i| {
                            labels.label(
                                &TenantId::parse(&format!("t{}-{t}", (i * 7 + t) % 50)).unwrap(),
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let seen: HashSet<String> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        assert!(seen.contains("other"));
        assert_eq!(seen.len(), 10 + 1, "{seen:?}");
    }
}
