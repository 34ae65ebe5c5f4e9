//! `POST /admin/migrations`: apply pending migrations to every tenant and report per tenant.

use axum::Json;
use axum::extract::State;
use tenancy::migrations::{MigrationReport, migrate_all};

use crate::http::ApiError;
use crate::openapi::AdminErrors;
use crate::state::AppState;

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
