//! `POST /admin/migrations`: apply pending migrations to every tenant and report per tenant.

use axum::Json;
use axum::extract::State;
use tenancy::migrations::{MigrationReport, migrate_all};

use crate::http::ApiError;
use crate::state::AppState;

pub async fn run_migrations(
    State(state): State<AppState>,
) -> Result<Json<MigrationReport>, ApiError> {
    let parallelism = state.config.migration_parallelism;
    let report = migrate_all(&state.catalog, &state.pools, None, parallelism, |_| {}).await?;
    tracing::info!(
        tenants = report.tenants,
        failed = report.failed,
        "migrations applied"
    );
    Ok(Json(report))
}
