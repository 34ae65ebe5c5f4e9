//! `POST /admin/tenants/{id}/projections/rebuild`: rebuild a tenant's read models from its outbox.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::tenants::parse_id;
use crate::http::ApiError;
use crate::openapi::AdminErrors;
use crate::state::AppState;

/// Rebuild the tenant's read models from its outbox.
#[utoipa::path(post, path = "/admin/tenants/{id}/projections/rebuild", security(("admin_key" = [])), tag = "admin",
    params(("id" = String, Path, description = "Tenant id")),
    responses((status = 200, description = "`{tenant_id, events_applied, dead_letters}`", body = Object), AdminErrors))]
pub async fn rebuild_projections(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let tenant = state.catalog.store().require(&parse_id(&id)?).await?;
    let done = state
        .projector
        .rebuild(&tenant)
        .await
        .map_err(commerce::CommerceError::from)?;
    tracing::info!(tenant = %tenant.id, events = done.events, dead_letters = done.dead_letters, "read models rebuilt");
    Ok(Json(
        json!({"tenant_id": tenant.id, "events_applied": done.events, "dead_letters": done.dead_letters}),
    ))
}
