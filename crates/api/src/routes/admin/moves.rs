//! `POST /admin/tenants/{id}/move` and `GET /admin/tenants/{id}/move`: moving a tenant to
//! another cluster while it serves (`tenancy::moves`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tenancy::moves::{MoveRecord, Mover};

use super::path::TenantPath;
use crate::extract::Body;
use crate::http::{ApiError, ErrorChain};
use crate::openapi::{AdminErrors, BodyErrors, Problem};
use crate::state::AppState;
use crate::views::MoveView;

crate::request_body! {
    /// `POST /admin/tenants/{id}/move` body.
    pub struct MoveForCreate {
        /// The configured cluster to move the tenant to.
        #[schema(min_length = 1)]
        pub cluster: String,
    }
}

/// Move the tenant to another cluster while it keeps serving: its database is copied, the
/// changes made meanwhile applied, then its writes wait (briefly, they do not fail) while the
/// copy is verified and the placement switched. Follow it with `GET`.
#[utoipa::path(post, path = "/admin/tenants/{id}/move", security(("admin_key" = [])), tag = "admin",
    params(TenantPath),
    request_body = MoveForCreate,
    responses(
        (status = 202, description = "The move started", body = MoveView),
        (status = 409, description = "`move_in_progress`; `invalid_tenant_state` (not active or suspended, already on that cluster, or migrations pending)", body = Problem, content_type = "application/problem+json"),
        AdminErrors, BodyErrors,
    ))]
pub async fn move_tenant(
    State(state): State<AppState>,
    TenantPath { id }: TenantPath,
    body: Body<MoveForCreate>,
) -> Result<Response, ApiError> {
    let record = state.mover.start(&id, &body.value.cluster).await?;
    let view = MoveView::from(&record);
    tokio::spawn(run(state.mover.clone(), record));
    Ok((StatusCode::ACCEPTED, Json(view)).into_response())
}

/// Runs a started move in the background (the sweeper resumes it if this process dies).
async fn run(mover: Mover, started: MoveRecord) {
    let key = started.key.as_str();
    match mover.run(&started).await {
        Ok(done) => tracing::info!(
            key,
            state = done.state.as_str(),
            write_pause_ms = done.write_pause_ms,
            "move finished"
        ),
        Err(e) => tracing::warn!(key, error = %ErrorChain(&e), "move did not finish"),
    }
}

/// The tenant's current or last move.
#[utoipa::path(get, path = "/admin/tenants/{id}/move", security(("admin_key" = [])), tag = "admin",
    params(TenantPath),
    responses(
        (status = 200, description = "OK", body = MoveView),
        AdminErrors,
        (status = 404, description = "`tenant_not_found`; `not_found`: the tenant never moved", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_move(
    State(state): State<AppState>,
    TenantPath { id }: TenantPath,
) -> Result<Json<MoveView>, ApiError> {
    let record = state
        .mover
        .current(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("tenant '{id}' has never moved")))?;
    Ok(Json(MoveView::from(&record)))
}
