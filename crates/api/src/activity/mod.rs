//! What each tenant did on this instance over the last hour: the data of the console's charts
//! and of `GET /admin/tenants/{id}/activity`.
//!
//! Kept in memory, per instance, by decision: the figures are about this process (its requests,
//! its share of the pool), they need no storage or coordination, and an instance that restarts
//! starts an empty hour. Behind a load balancer each instance answers with its own share, and
//! the console merges the instances' answers (`console/activity.js`).
//!
//! - Requests are counted where they are answered (`resolution::resolve_tenant`): count, 4xx,
//!   5xx and a latency histogram per interval, reduced to p50/p99 when the interval closes.
//! - Projection lag and budget use are sampled every interval by `sampler`, only for the
//!   tenants whose activity someone asked for in the last hour (reading every tenant's lag
//!   would cost database reads for charts nobody looks at).
//! - Memory is bounded: at most `TENANTS` tenants, about 10 KB each (120 samples of 30 s),
//!   dropped after an hour idle.
//!   Keys are incarnations, so a re-created id starts empty.

mod latency;
mod sampler;
mod series;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use moka::sync::Cache;
use tenancy::{Tenant, TenantKey};

pub use sampler::spawn_sampler;
pub use series::Sample;
use series::Series;

/// The window the charts show.
pub const WINDOW: Duration = Duration::from_secs(3600);
/// Tenants kept at most.
const TENANTS: u64 = 10_000;

#[derive(Clone)]
pub struct Activity {
    series: Cache<TenantKey, Arc<Mutex<Series>>>,
    /// Tenants whose gauges the sampler reads, with the record it reads them through.
    watched: Cache<TenantKey, Arc<Tenant>>,
    interval: Duration,
}

impl Activity {
    pub fn new(interval: Duration) -> Activity {
        Activity {
            series: bounded(),
            watched: bounded(),
            interval,
        }
    }

    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// A request of the tenant answered `status` after `elapsed`.
    pub fn record(&self, tenant: &TenantKey, status: StatusCode, elapsed: Duration) {
        self.with_series(tenant, |s| s.record(now_secs(), status, elapsed));
    }

    /// Requests this instance answered for the tenant (while it was kept).
    pub fn requests(&self, tenant: &TenantKey) -> u64 {
        self.series.get(tenant).map_or(0, |s| lock(&s).total())
    }

    /// The tenant's samples of the window, oldest first; from now on the sampler also reads its
    /// gauges, for an hour.
    pub fn samples(&self, tenant: &Arc<Tenant>) -> Vec<Sample> {
        self.watched.insert(tenant.key(), tenant.clone());
        self.with_series(&tenant.key(), |s| s.samples(now_secs()))
    }

    /// Tenants the sampler reads.
    pub fn watching(&self) -> u64 {
        self.watched.run_pending_tasks();
        self.watched.entry_count()
    }

    fn gauge(&self, tenant: &TenantKey, lag: Option<i64>, in_use: u32) {
        self.with_series(tenant, |s| s.gauge(now_secs(), lag, in_use));
    }

    fn with_series<T>(&self, tenant: &TenantKey, f: impl FnOnce(&mut Series) -> T) -> T {
        let interval = self.interval.as_secs();
        let series = self.series.get_with_by_ref(tenant, || {
            Arc::new(Mutex::new(Series::new(interval, WINDOW.as_secs())))
        });
        f(&mut lock(&series))
    }
}

fn bounded<V: Clone + Send + Sync + 'static>() -> Cache<TenantKey, V> {
    Cache::builder()
        .max_capacity(TENANTS)
        .time_to_idle(WINDOW)
        .build()
}

/// The series is plain data: a panic elsewhere while it was locked leaves nothing half-done
/// that matters more than losing the charts, so a poisoned lock is used as it is.
fn lock(series: &Mutex<Series>) -> std::sync::MutexGuard<'_, Series> {
    series.lock().unwrap_or_else(PoisonError::into_inner)
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
