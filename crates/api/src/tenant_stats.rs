//! Per-tenant request counters for `GET /admin/tenants/{id}/stats`, per incarnation (a re-created
//! id starts from zero). Bounded: counters of tenants idle for an hour are dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use moka::sync::Cache;
use tenancy::TenantKey;

#[derive(Clone)]
pub struct RequestCounters(Cache<TenantKey, Arc<AtomicU64>>);

impl Default for RequestCounters {
    fn default() -> Self {
        RequestCounters(
            Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(Duration::from_secs(3600))
                .build(),
        )
    }
}

impl RequestCounters {
    pub fn record(&self, id: &TenantKey) {
        self.0
            .get_with_by_ref(id, Arc::default)
            .fetch_add(1, Ordering::Relaxed);
    }

    pub fn count(&self, id: &TenantKey) -> u64 {
        self.0.get(id).map_or(0, |c| c.load(Ordering::Relaxed))
    }
}
