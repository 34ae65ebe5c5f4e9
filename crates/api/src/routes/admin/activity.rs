//! `GET /admin/tenants/{id}/activity`: the tenant's last hour on the instance that answers (the
//! console's charts). See `crate::activity` for what is sampled and why per instance.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::path::TenantPath;
use crate::activity::{Sample, WINDOW};
use crate::http::ApiError;
use crate::openapi::AdminErrors;
use crate::state::AppState;

/// A tenant's activity on one instance.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantActivity {
    /// The instance that answered: the samples are its own.
    pub instance_id: String,
    pub interval_secs: u64,
    pub window_secs: u64,
    /// The intervals with data, oldest first; the last one may be the current, still open one.
    pub samples: Vec<Sample>,
}

/// The tenant's requests, errors, latency, projection lag and budget use over the last hour, as
/// seen by the instance that answers. Asking starts the sampling of its projection lag and
/// budget use on this instance, for an hour.
#[utoipa::path(get, path = "/admin/tenants/{id}/activity", security(("admin_key" = [])), tag = "admin",
    params(TenantPath),
    responses((status = 200, description = "Samples", body = TenantActivity), AdminErrors))]
pub async fn tenant_activity(
    State(state): State<AppState>,
    TenantPath { id }: TenantPath,
) -> Result<Json<TenantActivity>, ApiError> {
    let tenant = state.catalog.store().require(&id).await?;
    Ok(Json(TenantActivity {
        instance_id: state.fleet.id().to_string(),
        interval_secs: state.activity.interval().as_secs(),
        window_secs: WINDOW.as_secs(),
        samples: state.activity.samples(&std::sync::Arc::new(tenant)),
    }))
}
