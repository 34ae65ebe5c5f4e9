//! `POST /admin/tenants/{id}/projections/rebuild`: rebuild a tenant's read models from its outbox,
//! beside the live ones, then switch (queries never see an empty or half-built read model).

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::path::TenantPath;
use crate::http::ApiError;
use crate::openapi::{AdminErrors, Problem};
use crate::state::AppState;

/// A finished rebuild.
#[derive(Debug, Serialize, ToSchema)]
pub struct Rebuilt {
    pub tenant_id: String,
    /// Events applied to the new read models.
    pub events_applied: u64,
    /// Events that could not be applied (in the dead-letter collection).
    pub dead_letters: u64,
    /// The generation of read models queries read now.
    pub generation: u32,
}

/// Rebuild the tenant's read models from its outbox (blue-green: queries keep reading the live
/// ones until the new ones have caught up).
#[utoipa::path(post, path = "/admin/tenants/{id}/projections/rebuild", security(("admin_key" = [])), tag = "admin",
    params(TenantPath),
    responses(
        (status = 200, description = "Rebuilt and switched", body = Rebuilt),
        (status = 409, description = "`rebuild_in_progress`", body = Problem, content_type = "application/problem+json"),
        AdminErrors,
    ))]
pub async fn rebuild_projections(
    State(state): State<AppState>,
    TenantPath { id }: TenantPath,
) -> Result<Json<Rebuilt>, ApiError> {
    let tenant = state.catalog.store().require(&id).await?;
    // Its own task: a client that goes away does not cut a rebuild short (it would only
    // be left to expire and be started again).
    let projector = state.projector.clone();
    let rebuilding = tenant.clone();
    let done = tokio::spawn(async move { projector.rebuild(&rebuilding).await })
        .await
        .map_err(|e| ApiError::internal(&e))??;
    tracing::info!(tenant = %tenant.key(), events = done.events, dead_letters = done.dead_letters, generation = done.generation, "read models rebuilt");
    Ok(Json(Rebuilt {
        tenant_id: tenant.id.to_string(),
        events_applied: done.events,
        dead_letters: done.dead_letters,
        generation: done.generation,
    }))
}
