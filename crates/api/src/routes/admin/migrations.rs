//! `GET /admin/migrations`: the tenants behind the schema; `POST`: apply pending migrations to
//! every tenant and report per tenant.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use tenancy::TenantStatus;
use tenancy::migrations::{MigrationReport, migrate_all};
use utoipa::ToSchema;

use crate::http::ApiError;
use crate::openapi::AdminErrors;
use crate::state::AppState;

/// Tenants listed at most by `GET /admin/migrations`.
const LISTED: u32 = 200;

/// Where the tenants' schemas stand.
#[derive(Debug, Serialize, ToSchema)]
pub struct PendingMigrations {
    /// The schema version of this build: what `POST /admin/migrations` brings tenants to.
    pub target_version: u32,
    /// Live tenants (active or suspended) on an older version.
    pub pending_count: u64,
    /// The first 200 of them, by id.
    pub pending: Vec<TenantBehind>,
}

/// A tenant whose schema is older than the target.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantBehind {
    pub tenant_id: String,
    pub schema_version: u32,
    pub status: TenantStatus,
}

/// The live tenants whose schema is older than this build's (poll it while `POST` runs to
/// follow its progress).
#[utoipa::path(get, path = "/admin/migrations", security(("admin_key" = [])), tag = "admin",
    responses((status = 200, description = "Pending migrations", body = PendingMigrations), AdminErrors))]
pub async fn pending_migrations(
    State(state): State<AppState>,
) -> Result<Json<PendingMigrations>, ApiError> {
    let target_version = state.provisioner.schema().latest_version();
    let (pending_count, behind) = state.catalog.store().behind(target_version, LISTED).await?;
    Ok(Json(PendingMigrations {
        target_version,
        pending_count,
        pending: behind
            .iter()
            .map(|t| TenantBehind {
                tenant_id: t.id.to_string(),
                schema_version: t.schema_version,
                status: t.status,
            })
            .collect(),
    }))
}

/// Apply pending migrations to every tenant (bounded parallelism; continues past failures).
/// Read models a migration added are filled from the tenant's events right after.
#[utoipa::path(post, path = "/admin/migrations", security(("admin_key" = [])), tag = "admin",
    responses((status = 200, description = "Per-tenant report", body = MigrationReport), AdminErrors))]
pub async fn run_migrations(
    State(state): State<AppState>,
) -> Result<Json<MigrationReport>, ApiError> {
    let parallelism = state.config.migration_parallelism;
    let report = migrate_all(
        &state.catalog,
        &state.pools,
        state.provisioner.schema(),
        &[],
        parallelism,
        |_| {},
    )
    .await?;
    tracing::info!(
        tenants = report.tenants,
        failed = report.failed,
        "migrations applied"
    );
    // Projections a migration added catch up now on this instance (the others hear of it
    // through the change stream).
    for migrated in report
        .results
        .iter()
        .filter(|r| r.to_version > r.from_version)
    {
        if let Ok(Some(tenant)) = state.catalog.tenant(&migrated.tenant_id).await {
            state.projector.wake(&tenant);
        }
    }
    Ok(Json(report))
}
