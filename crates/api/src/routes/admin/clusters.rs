//! `GET /admin/clusters`: the MongoDB clusters this deployment places tenants on.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use tenancy::clusters::DEFAULT_CLUSTER;
use utoipa::ToSchema;

use crate::http::ApiError;
use crate::openapi::AdminErrors;
use crate::state::AppState;
use crate::views::Items;

/// A configured cluster.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClusterView {
    pub name: String,
    /// Where a tenant is placed when its creation names no cluster.
    pub default: bool,
}

/// The configured clusters (`TENANTRY_CLUSTERS`), by name: where tenants can be created or
/// moved to.
#[utoipa::path(get, path = "/admin/clusters", security(("admin_key" = [])), tag = "admin",
    responses((status = 200, description = "OK", body = Items<ClusterView>), AdminErrors))]
pub async fn list_clusters(
    State(state): State<AppState>,
) -> Result<Json<Items<ClusterView>>, ApiError> {
    let mut items: Vec<ClusterView> = state
        .pools
        .clusters()
        .map(|c| ClusterView {
            name: c.name.clone(),
            default: c.name == DEFAULT_CLUSTER,
        })
        .collect();
    items.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Json(Items { items }))
}
