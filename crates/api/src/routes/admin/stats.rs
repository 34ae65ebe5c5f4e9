//! `GET /admin/tenants/{id}/stats`: requests served, pool and budget use, document counts.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use tenancy::Isolation;

use super::tenants::parse_id;
use crate::http::ApiError;
use crate::openapi::AdminErrors;
use crate::state::AppState;
use crate::tenant_data::TenantData;

/// Requests served, budget and pool use, document counts, projection status.
#[utoipa::path(get, path = "/admin/tenants/{id}/stats", security(("admin_key" = [])), tag = "admin",
    params(("id" = String, Path, description = "Tenant id")),
    responses((status = 200, description = "Statistics", body = Object), AdminErrors))]
pub async fn tenant_stats(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    let tenant = state.catalog.store().require(&id).await?;
    let db = state.pools.maintenance_db(&tenant).await?;
    let data = TenantData::read(&db, &state.projector.projection_names()).await?;
    let pools = &state.pools;
    let cluster_pool = pools.cluster(&tenant.cluster)?.gauges().snapshot();
    let connections = match tenant.isolation {
        Isolation::Shared => json!({"kind": "shared", "cluster_pool": cluster_pool}),
        Isolation::Dedicated => {
            json!({"kind": "dedicated", "dedicated_pools": pools.dedicated().gauges().snapshot()})
        }
    };
    Ok(Json(json!({
        "tenant_id": tenant.id,
        "status": tenant.status,
        "incarnation": tenant.incarnation,
        "requests": state.requests.count(&tenant.key()),
        "budget": {"limit": pools.budgets().budget(&tenant), "in_use": pools.budgets().in_use(&tenant).await},
        "connections": connections,
        "documents": data.documents,
        "projections": data.projections,
    })))
}
