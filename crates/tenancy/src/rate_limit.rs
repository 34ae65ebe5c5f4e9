//! Per-tenant request-rate limits: a token bucket per tenant (GCRA, from `governor`), sized by the
//! tenant's `limits.requests_per_second` or the platform default. Buckets of idle tenants are
//! evicted, so memory follows active tenants, not all tenants.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use moka::sync::Cache;

use crate::{Tenant, TenantKey};

type Bucket = RateLimiter<NotKeyed, InMemoryState, DefaultClock>;

#[derive(Clone)]
pub struct TenantRateLimits {
    /// Requests per second when the tenant sets none; `None`: unlimited.
    default_rate: Option<NonZeroU32>,
    buckets: Cache<TenantKey, (u32, Arc<Bucket>)>,
    clock: DefaultClock,
}

impl std::fmt::Debug for TenantRateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantRateLimits")
            .field("default_rate", &self.default_rate)
            .finish_non_exhaustive()
    }
}

impl TenantRateLimits {
    /// `default_rate` 0 means unlimited unless a tenant sets its own limit.
    pub fn new(default_rate: u32) -> TenantRateLimits {
        let buckets = Cache::builder()
            .max_capacity(1_000_000)
            .time_to_idle(Duration::from_secs(600))
            .build();
        TenantRateLimits {
            default_rate: NonZeroU32::new(default_rate),
            buckets,
            clock: DefaultClock::default(),
        }
    }

    /// `Err(wait)` when the tenant is over its rate: retry after `wait`.
    pub fn check(&self, tenant: &Tenant) -> Result<(), Duration> {
        let rate = tenant
            .limits
            .requests_per_second
            .and_then(NonZeroU32::new)
            .or(self.default_rate);
        let Some(rate) = rate else { return Ok(()) };
        let make = || {
            (
                rate.get(),
                Arc::new(RateLimiter::direct(Quota::per_second(rate))),
            )
        };
        let key = tenant.key();
        let mut entry = self.buckets.get_with_by_ref(&key, make);
        if entry.0 != rate.get() {
            entry = make();
            self.buckets.insert(key, entry.clone());
        }
        entry
            .1
            .check()
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TenantLimits;

    fn tenant(id: &str, rps: Option<u32>) -> Tenant {
        Tenant {
            limits: TenantLimits {
                requests_per_second: rps,
                ..TenantLimits::default()
            },
            ..Tenant::sample(id)
        }
    }

    #[test]
    fn a_tenant_over_its_rate_is_told_when_to_retry() {
        let limits = TenantRateLimits::new(0);
        let unlimited = tenant("free-for-all", None);
        assert!((0..1000).all(|_| limits.check(&unlimited).is_ok()));
        let limited = tenant("limited", Some(5));
        let allowed = (0..20).filter(|_| limits.check(&limited).is_ok()).count();
        assert_eq!(allowed, 5, "a burst of the per-second rate");
        let wait = limits.check(&limited).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(200),
            "{wait:?}"
        );
        // Another tenant has its own bucket.
        assert!(limits.check(&tenant("other-one", Some(5))).is_ok());
        // The platform default applies to tenants without their own limit.
        let defaulted = TenantRateLimits::new(2);
        let allowed = (0..10)
            .filter(|_| defaulted.check(&unlimited).is_ok())
            .count();
        assert_eq!(allowed, 2);
    }
}
