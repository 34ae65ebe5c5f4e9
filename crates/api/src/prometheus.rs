//! Metrics, exported in the Prometheus text format at `/metrics`.
//!
//! Counters and histograms are recorded with the `metrics` facade (one process-wide recorder;
//! requests by `http::request_metrics`); gauges of pools, budgets and the projector are read at
//! scrape time (`gauges`). The `tenant` label is given
//! to the first `TENANTRY_METRICS_MAX_TENANTS` tenants seen; the others share `other` (requests
//! without a tenant have an empty one), so the number of series stays bounded however many
//! tenants there are.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use cqrs::{DispatchInfo, DispatchObserver, Outcome};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tenancy::TenantId;

const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Commands committed together in one transaction (`cqrs::command::group`).
const GROUP_SIZE_BUCKETS: [f64; 7] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];

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

    /// Every metric in the text format (scrape-time gauges are refreshed by `gauges`).
    pub fn render(&self) -> String {
        self.handle.render()
    }
}

fn install() -> PrometheusHandle {
    let builder = PrometheusBuilder::new()
        .set_buckets(&LATENCY_BUCKETS)
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Full("tenantry_command_group_size".into()),
                &GROUP_SIZE_BUCKETS,
            )
        })
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
