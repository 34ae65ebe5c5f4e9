//! Tenant lifecycle: create (provision), update settings, suspend/resume, delete.
//!
//! Creating records the tenant as `provisioning`, claims its domains, applies the migrations to
//! its database (which creates it), then marks it `active`. Every step is idempotent, so a crash
//! or error anywhere leaves a state that repeating the same request completes. Deleting marks the
//! tenant `deleting`, then drops its database and removes the record; `resume_deletions` finishes
//! deletions a crash interrupted.

use mongodb::bson::DateTime;

use crate::catalog::CatalogCache;
use crate::clusters::ClusterPools;
use crate::error::{Result, TenancyError};
use crate::migrations::apply_pending;
use crate::{DbPrefix, Tenant, TenantId, TenantLimits, TenantPatch, TenantSpec, TenantStatus};

/// Whether `create` made the tenant or found it already made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    New,
    Existing,
}

#[derive(Clone, Debug)]
pub struct Provisioner {
    catalog: CatalogCache,
    pools: ClusterPools,
    prefix: DbPrefix,
}

impl Provisioner {
    pub fn new(catalog: CatalogCache, pools: ClusterPools, prefix: DbPrefix) -> Provisioner {
        Provisioner {
            catalog,
            pools,
            prefix,
        }
    }

    pub fn catalog(&self) -> &CatalogCache {
        &self.catalog
    }

    pub async fn create(&self, spec: &TenantSpec) -> Result<(Tenant, Created)> {
        self.pools.cluster(&spec.cluster)?;
        let store = self.catalog.store();
        let now = DateTime::now();
        let record = Tenant {
            id: spec.id.clone(),
            name: spec.name.clone(),
            status: TenantStatus::Provisioning,
            plan: spec.plan.clone(),
            cluster: spec.cluster.clone(),
            database: spec.id.database_name(&self.prefix),
            isolation: spec.isolation,
            domains: spec.domains.clone(),
            limits: TenantLimits::default(),
            schema_version: 0,
            created_at: now,
            updated_at: now,
        };
        let tenant = if store.insert(&record).await? {
            record
        } else {
            let existing = store.require(&spec.id).await?;
            if !spec.matches(&existing) {
                return Err(TenancyError::Exists(spec.id.clone()));
            }
            match existing.status {
                TenantStatus::Active | TenantStatus::Suspended => {
                    return Ok((existing, Created::Existing));
                }
                TenantStatus::Deleting => {
                    return Err(TenancyError::InvalidState {
                        id: spec.id.clone(),
                        status: "deleting",
                    });
                }
                TenantStatus::Provisioning => existing,
            }
        };
        tracing::info!(tenant = %tenant.id, cluster = %tenant.cluster, "provisioning tenant");
        if let Err(e) = store.claim_domains(&tenant.id, &tenant.domains).await {
            store.remove(&tenant.id).await?;
            self.catalog.invalidate(&tenant.id).await;
            return Err(e);
        }
        let db = self.pools.maintenance_db(&tenant).await?;
        let version = apply_pending(&db).await?;
        store.set_schema_version(&tenant.id, version).await?;
        let active = store
            .transition(
                &tenant.id,
                &[TenantStatus::Provisioning],
                TenantStatus::Active,
            )
            .await?;
        self.catalog.invalidate(&tenant.id).await;
        match active {
            Some(t) => {
                tracing::info!(tenant = %t.id, schema_version = version, "tenant active");
                Ok((t, Created::New))
            }
            // Another request finished (or deleted) it meanwhile.
            None => Ok((store.require(&tenant.id).await?, Created::Existing)),
        }
    }

    pub async fn update(&self, id: &TenantId, patch: &TenantPatch) -> Result<Tenant> {
        let store = self.catalog.store();
        let current = store.require(id).await?;
        if current.status == TenantStatus::Deleting {
            return Err(TenancyError::InvalidState {
                id: id.clone(),
                status: "deleting",
            });
        }
        if let Some(domains) = &patch.domains {
            store.claim_domains(id, domains).await?;
        }
        let updated = store
            .apply_patch(id, patch)
            .await?
            .ok_or_else(|| TenancyError::NotFound(id.clone()))?;
        if let Some(domains) = &patch.domains {
            let dropped: Vec<String> = current
                .domains
                .iter()
                .filter(|d| !domains.contains(d))
                .cloned()
                .collect();
            store.release(id, &dropped).await?;
        }
        self.catalog.invalidate(id).await;
        Ok(updated)
    }

    pub async fn suspend(&self, id: &TenantId) -> Result<Tenant> {
        self.move_between_active_and_suspended(id, TenantStatus::Suspended)
            .await
    }

    pub async fn resume(&self, id: &TenantId) -> Result<Tenant> {
        self.move_between_active_and_suspended(id, TenantStatus::Active)
            .await
    }

    async fn move_between_active_and_suspended(
        &self,
        id: &TenantId,
        to: TenantStatus,
    ) -> Result<Tenant> {
        let store = self.catalog.store();
        let from = [TenantStatus::Active, TenantStatus::Suspended];
        let moved = store.transition(id, &from, to).await?;
        self.catalog.invalidate(id).await;
        match moved {
            Some(t) => {
                tracing::info!(tenant = %id, status = to.as_str(), "tenant status changed");
                Ok(t)
            }
            None => {
                let current = store.require(id).await?;
                Err(TenancyError::InvalidState {
                    id: id.clone(),
                    status: current.status.as_str(),
                })
            }
        }
    }

    /// Marks the tenant `deleting` (requests see 503 at once); the caller then runs
    /// `finish_deletion`, usually in the background.
    pub async fn begin_deletion(&self, id: &TenantId) -> Result<Tenant> {
        let all = [
            TenantStatus::Provisioning,
            TenantStatus::Active,
            TenantStatus::Suspended,
            TenantStatus::Deleting,
        ];
        let tenant = self
            .catalog
            .store()
            .transition(id, &all, TenantStatus::Deleting)
            .await?
            .ok_or_else(|| TenancyError::NotFound(id.clone()))?;
        self.catalog.invalidate(id).await;
        tracing::info!(tenant = %id, "tenant deletion started");
        Ok(tenant)
    }

    /// Drops the tenant's database and removes it from the catalog.
    pub async fn finish_deletion(&self, id: &TenantId) -> Result<()> {
        let store = self.catalog.store();
        let Some(tenant) = store.get(id).await? else {
            return Ok(());
        };
        if tenant.status != TenantStatus::Deleting {
            return Ok(());
        }
        self.pools
            .maintenance_db(&tenant)
            .await?
            .database()
            .drop()
            .await?;
        store.remove(id).await?;
        self.catalog.invalidate(id).await;
        tracing::info!(tenant = %id, database = %tenant.database, "tenant deleted");
        Ok(())
    }

    /// Finishes every deletion a crash interrupted.
    pub async fn resume_deletions(&self) -> Result<usize> {
        let ids = self
            .catalog
            .store()
            .ids_with_status(&[TenantStatus::Deleting])
            .await?;
        for id in &ids {
            self.finish_deletion(id).await?;
        }
        Ok(ids.len())
    }
}
