//! Creating a tenant: a new incarnation each time an id is created.

use mongodb::bson::DateTime;

use super::Provisioner;
use crate::catalog::Claimed;
use crate::error::{Result, TenancyError};
use crate::migrations::apply_pending;
use crate::{Incarnation, Tenant, TenantLimits, TenantSpec, TenantStatus, meta};

/// Whether `create` made the tenant or found it already made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    New,
    Existing,
}

impl Provisioner {
    /// Provisions the tenant `spec` describes, or finds it provisioned by the same request
    /// before (a crash halfway is completed; another request for the id is `Exists`).
    pub async fn create(&self, spec: &TenantSpec) -> Result<(Tenant, Created)> {
        self.pools.cluster(&spec.cluster)?;
        let store = self.catalog.store();
        let now = DateTime::now();
        let incarnation = Incarnation::generate();
        let record = Tenant {
            id: spec.id.clone(),
            database: spec.id.database_name(&self.prefix, &incarnation),
            incarnation,
            name: spec.name.to_string(),
            status: TenantStatus::Provisioning,
            plan: spec.plan.to_string(),
            cluster: spec.cluster.clone(),
            isolation: spec.isolation,
            domains: spec.domains.clone(),
            limits: TenantLimits::default(),
            auth: spec.auth.clone(),
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
                // The earlier incarnation is still being removed: never adopt any of it.
                TenantStatus::Deleting => {
                    return Err(TenancyError::InvalidState {
                        id: spec.id.clone(),
                        status: "deleting",
                    });
                }
                TenantStatus::Provisioning => existing,
            }
        };
        let key = tenant.key();
        tracing::info!(tenant = %key, cluster = %tenant.cluster, "provisioning tenant");
        let issuers: Vec<String> = tenant.auth.iter().map(|a| a.issuer.clone()).collect();
        let claimed = match store.claim(Claimed::Domain, &key, &tenant.domains).await {
            Ok(()) => store.claim(Claimed::Issuer, &key, &issuers).await,
            Err(e) => Err(e),
        };
        if let Err(e) = claimed {
            // Removing the record releases every claim of this incarnation.
            store.remove(&key).await?;
            self.catalog.invalidate(&tenant.id).await;
            return Err(e);
        }
        let db = self.pools.maintenance_db(&tenant).await?;
        meta::write_identity(db.database(), &tenant).await?;
        let version = apply_pending(&db, &self.schema).await?;
        store.set_schema_version(&key, version).await?;
        let active = store
            .transition(&key, &[TenantStatus::Provisioning], TenantStatus::Active)
            .await?;
        self.catalog.invalidate(&tenant.id).await;
        match active {
            Some(t) => {
                tracing::info!(tenant = %key, schema_version = version, "tenant active");
                Ok((t, Created::New))
            }
            // Another request finished (or deleted) it meanwhile.
            None => Ok((store.require(&tenant.id).await?, Created::Existing)),
        }
    }
}
