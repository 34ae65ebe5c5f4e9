//! Per-tenant concurrency budgets on a shared pool: a semaphore per tenant, so one busy tenant
//! cannot hold every connection of its cluster. Semaphores of idle tenants are evicted, so the
//! memory cost is per *active* tenant, not per tenant.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use moka::future::Cache;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{Result, TenancyError};
use crate::{Tenant, TenantId, TenantKey};

#[derive(Clone, Debug)]
pub struct TenantBudgets {
    default_budget: u32,
    wait: Duration,
    semaphores: Cache<TenantKey, (u32, Arc<Semaphore>)>,
    rejections: Arc<AtomicU64>,
    on_rejection: Arc<OnceLock<RejectionObserver>>,
}

/// Called with the tenant whose request was refused (per-tenant metrics).
pub struct RejectionObserver(pub Box<dyn Fn(&TenantId) + Send + Sync>);

impl std::fmt::Debug for RejectionObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RejectionObserver")
    }
}

impl TenantBudgets {
    pub fn new(default_budget: u32, wait: Duration) -> TenantBudgets {
        let semaphores = Cache::builder()
            .max_capacity(1_000_000)
            .time_to_idle(Duration::from_secs(600))
            .build();
        TenantBudgets {
            default_budget,
            wait,
            semaphores,
            rejections: Arc::default(),
            on_rejection: Arc::default(),
        }
    }

    fn budget_of(&self, tenant: &Tenant) -> u32 {
        tenant
            .limits
            .max_concurrent_requests
            .unwrap_or(self.default_budget)
            .max(1)
    }

    /// Waits up to the configured time for a slot of the tenant's budget.
    pub async fn acquire(&self, tenant: &Tenant) -> Result<OwnedSemaphorePermit> {
        let budget = self.budget_of(tenant);
        let make = || (budget, Arc::new(Semaphore::new(budget as usize)));
        let key = tenant.key();
        let mut entry = self
            .semaphores
            .get_with_by_ref(&key, async { make() })
            .await;
        if entry.0 != budget {
            // The tenant's limit changed: start a semaphore of the new size.
            entry = make();
            self.semaphores.insert(key, entry.clone()).await;
        }
        match tokio::time::timeout(self.wait, entry.1.acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => {
                self.rejections.fetch_add(1, Ordering::Relaxed);
                if let Some(observe) = self.on_rejection.get() {
                    (observe.0)(&tenant.id);
                }
                Err(TenancyError::BudgetExhausted(tenant.id.clone()))
            }
        }
    }

    /// Slots of this tenant's budget in use right now.
    pub async fn in_use(&self, tenant: &Tenant) -> u32 {
        match self.semaphores.get(&tenant.key()).await {
            Some((budget, sem)) => budget.saturating_sub(sem.available_permits() as u32),
            None => 0,
        }
    }

    pub fn budget(&self, tenant: &Tenant) -> u32 {
        self.budget_of(tenant)
    }

    /// Sets the observer of rejections (once; later calls are ignored).
    pub fn on_rejection(&self, observer: RejectionObserver) {
        let _ = self.on_rejection.set(observer);
    }

    /// Requests turned away because a budget stayed exhausted.
    pub fn rejections(&self) -> u64 {
        self.rejections.load(Ordering::Relaxed)
    }
}
