//! `GET /admin/instances`: the live server instances sharing this catalog, and the tenants whose
//! projections each one owns.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use tenancy::fleet::InstanceView;

use crate::http::ApiError;
use crate::openapi::AdminErrors;
use crate::state::AppState;

/// The live instances: id, version, host, started, last heartbeat, and the partitions and tenants
/// whose projections each one owns.
#[utoipa::path(get, path = "/admin/instances", security(("admin_key" = [])), tag = "admin",
    responses((status = 200, description = "`{items: [instance], this_instance, lease_secs}`", body = InstanceList), AdminErrors))]
pub async fn list_instances(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let instances = state.fleet.instances().await?;
    Ok(Json(json!({
        "items": instances,
        "this_instance": state.fleet.id(),
        "lease_secs": state.fleet.settings().lease.as_secs(),
        "leases": state.fleet.settings().leases,
    })))
}

/// The live instances.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct InstanceList {
    items: Vec<InstanceView>,
    /// The instance that answered.
    this_instance: String,
    lease_secs: u64,
    /// Whether projection work is shared by leases.
    leases: bool,
}
