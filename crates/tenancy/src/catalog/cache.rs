//! `CatalogCache`: the tenant registry as requests see it. Lookups hit memory; a miss costs one
//! catalog round trip, shared by every request that misses the same key at once (single flight).
//! Entries live for a TTL and are invalidated on every catalog change (locally by the admin
//! operations, on every instance by the change-stream watch).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use moka::future::Cache;

use super::CatalogStore;
use crate::error::TenancyError;
use crate::{Tenant, TenantId, TenantStatus};

#[derive(Debug, Clone, Copy)]
pub struct CacheSettings {
    pub ttl: Duration,
    pub max_entries: u64,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            ttl: Duration::from_secs(30),
            max_entries: 100_000,
        }
    }
}

#[derive(Clone)]
pub struct CatalogCache {
    store: CatalogStore,
    /// Moved by every invalidation: a lookup that overlapped one may have cached what the
    /// invalidation was meant to drop (loaded before the change, inserted after it).
    invalidations: Arc<AtomicU64>,
    by_id: Cache<TenantId, Option<Arc<Tenant>>>,
    by_domain: Cache<String, Option<TenantId>>,
    by_issuer: Cache<String, Option<TenantId>>,
}

impl std::fmt::Debug for CatalogCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogCache")
            .field("entries", &self.by_id.entry_count())
            .finish()
    }
}

impl CatalogCache {
    pub fn new(store: CatalogStore, settings: CacheSettings) -> CatalogCache {
        let by_id = Cache::builder()
            .max_capacity(settings.max_entries)
            .time_to_live(settings.ttl)
            .build();
        let by_domain = Cache::builder()
            .max_capacity(settings.max_entries)
            .time_to_live(settings.ttl)
            .build();
        let by_issuer = Cache::builder()
            .max_capacity(settings.max_entries)
            .time_to_live(settings.ttl)
            .build();
        CatalogCache {
            store,
            invalidations: Arc::default(),
            by_id,
            by_domain,
            by_issuer,
        }
    }

    pub fn store(&self) -> &CatalogStore {
        &self.store
    }

    /// The tenant with this id, `None` if unknown (absence is cached too, for the TTL).
    /// A record still `provisioning` is not kept (it changes in a moment), nor one whose lookup
    /// overlapped an invalidation (it may be older than the change).
    pub async fn tenant(&self, id: &TenantId) -> Result<Option<Arc<Tenant>>, Arc<TenancyError>> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let before = self.invalidations.load(Ordering::Acquire);
            let tenant = self
                .by_id
                .try_get_with_by_ref(id, async {
                    Ok::<_, TenancyError>(self.store.get(id).await?.map(Arc::new))
                })
                .await?;
            let transient = tenant
                .as_ref()
                .is_some_and(|t| t.status == TenantStatus::Provisioning);
            let raced = self.invalidations.load(Ordering::Acquire) != before;
            if transient || raced {
                self.by_id.invalidate(id).await;
            }
            if !raced || attempts == 3 {
                return Ok(tenant);
            }
        }
    }

    /// The tenant that registered `domain` as a custom domain, if any.
    pub async fn tenant_of_domain(
        &self,
        domain: &str,
    ) -> Result<Option<TenantId>, Arc<TenancyError>> {
        self.by_domain
            .try_get_with_by_ref(domain, async { self.store.tenant_of_domain(domain).await })
            .await
    }

    /// The tenant whose own identity provider is `issuer`, if any (absence cached too: an
    /// unknown `iss` costs one catalog read per TTL, not one per request).
    pub async fn tenant_of_issuer(
        &self,
        issuer: &str,
    ) -> Result<Option<TenantId>, Arc<TenancyError>> {
        self.by_issuer
            .try_get_with_by_ref(issuer, async { self.store.tenant_of_issuer(issuer).await })
            .await
    }

    /// Forgets one tenant (and, since domains and issuers may have moved, every mapping of
    /// them).
    pub async fn invalidate(&self, id: &TenantId) {
        self.invalidations.fetch_add(1, Ordering::AcqRel);
        self.by_id.invalidate(id).await;
        self.by_domain.invalidate_all();
        self.by_issuer.invalidate_all();
    }

    pub async fn invalidate_domain(&self, domain: &str) {
        self.by_domain.invalidate(domain).await;
    }

    pub async fn invalidate_issuer(&self, issuer: &str) {
        self.by_issuer.invalidate(issuer).await;
    }

    pub fn invalidate_all(&self) {
        self.invalidations.fetch_add(1, Ordering::AcqRel);
        self.by_id.invalidate_all();
        self.by_domain.invalidate_all();
        self.by_issuer.invalidate_all();
    }

    /// Number of cached tenant entries (approximate; for stats).
    pub fn len(&self) -> u64 {
        self.by_id.entry_count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
