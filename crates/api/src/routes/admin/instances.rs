//! `GET /admin/instances`: the live server instances sharing this catalog, and the tenants whose
//! projections each one owns.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use tenancy::fleet::InstanceView;

use crate::http::ApiError;
use crate::openapi::AdminErrors;
use crate::state::AppState;

/// The live instances: id, version, host, started, last heartbeat, and the partitions and tenants
/// whose projections each one owns.
#[utoipa::path(get, path = "/admin/instances", security(("admin_key" = [])), tag = "admin",
    responses((status = 200, description = "OK", body = InstanceList), AdminErrors))]
pub async fn list_instances(State(state): State<AppState>) -> Result<Json<InstanceList>, ApiError> {
    let settings = state.fleet.settings();
    Ok(Json(InstanceList {
        items: state.fleet.instances().await?,
        this_instance: state.fleet.id().to_string(),
        lease_secs: settings.lease.as_secs(),
        leases: settings.leases,
    }))
}

/// The live instances.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InstanceList {
    items: Vec<InstanceView>,
    /// The instance that answered.
    this_instance: String,
    lease_secs: u64,
    /// Whether projection work is shared by leases.
    leases: bool,
}
