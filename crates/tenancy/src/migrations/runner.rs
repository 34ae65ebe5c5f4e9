//! Applying pending migrations to every tenant with bounded parallelism. A failing tenant is
//! reported and the run goes on.

use futures::StreamExt;
use serde::Serialize;

use super::{Schema, apply_pending};
use crate::catalog::CatalogCache;
use crate::clusters::ClusterPools;
use crate::error::Result;
use crate::{TenantId, TenantStatus};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TenantMigrationOutcome {
    #[schema(value_type = String)]
    pub tenant_id: TenantId,
    pub from_version: u32,
    pub to_version: u32,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MigrationReport {
    pub tenants: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub results: Vec<TenantMigrationOutcome>,
}

/// Migrates every active or suspended tenant (or the tenants of `only`), `parallelism` at a time.
/// `on_done` is called after each tenant (progress reporting).
pub async fn migrate_all(
    catalog: &CatalogCache,
    pools: &ClusterPools,
    schema: &Schema,
    only: &[TenantId],
    parallelism: usize,
    on_done: impl Fn(&TenantMigrationOutcome),
) -> Result<MigrationReport> {
    let ids = if only.is_empty() {
        catalog
            .store()
            .ids_with_status(&[TenantStatus::Active, TenantStatus::Suspended])
            .await?
    } else {
        only.to_vec()
    };
    let mut results: Vec<TenantMigrationOutcome> = futures::stream::iter(ids)
        .map(|id| migrate_one(catalog, pools, schema, id))
        .buffer_unordered(parallelism.max(1))
        .inspect(&on_done)
        .collect()
        .await;
    results.sort_by(|a, b| a.tenant_id.cmp(&b.tenant_id));
    let succeeded = results.iter().filter(|r| r.ok).count();
    Ok(MigrationReport {
        tenants: results.len(),
        succeeded,
        failed: results.len() - succeeded,
        results,
    })
}

async fn migrate_one(
    catalog: &CatalogCache,
    pools: &ClusterPools,
    schema: &Schema,
    tenant_id: TenantId,
) -> TenantMigrationOutcome {
    let mut outcome = TenantMigrationOutcome {
        tenant_id,
        from_version: 0,
        to_version: 0,
        ok: false,
        error: None,
    };
    match try_migrate(catalog, pools, schema, &outcome.tenant_id).await {
        Ok((from, to)) => {
            outcome.from_version = from;
            outcome.to_version = to;
            outcome.ok = true;
        }
        Err(e) => {
            let error = crate::ErrorChain(&e).to_string();
            tracing::error!(tenant = %outcome.tenant_id, %error, "tenant migration failed");
            outcome.error = Some(error);
        }
    }
    outcome
}

async fn try_migrate(
    catalog: &CatalogCache,
    pools: &ClusterPools,
    schema: &Schema,
    id: &TenantId,
) -> Result<(u32, u32)> {
    let tenant = catalog.store().require(id).await?;
    if !matches!(
        tenant.status,
        TenantStatus::Active | TenantStatus::Suspended
    ) {
        // Deleting (or still provisioning, which migrates itself): never recreate its database.
        return Err(crate::TenancyError::InvalidState {
            id: id.clone(),
            status: tenant.status.as_str(),
        });
    }
    let db = pools.maintenance_db(&tenant).await?;
    let to = apply_pending(&db, schema).await?;
    if to != tenant.schema_version {
        catalog
            .store()
            .set_schema_version(&tenant.key(), to)
            .await?;
        catalog.invalidate(id).await;
    }
    Ok((tenant.schema_version, to))
}
