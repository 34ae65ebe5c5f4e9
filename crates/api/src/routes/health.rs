//! `/healthz` (the process is up) and `/readyz` (what `crate::readiness` checks).

use crate::http::ProblemCode;
use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::ApiError;
use crate::readiness::{self, Readiness, Verdict};
use crate::state::AppState;

/// `{"status": "ok"}`
#[derive(Debug, Serialize, ToSchema)]
pub struct Alive {
    /// Always `ok`.
    pub status: &'static str,
}

/// The process is up (no dependencies checked).
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "Alive", body = Alive)))]
pub async fn healthz() -> Json<Alive> {
    Json(Alive { status: "ok" })
}

/// Every dependency of this instance, each check with a status and a detail.
///
/// `ready` or `degraded` (some tenants' cluster or the projector failing) is 200; `unready` (the
/// catalog or every cluster unreachable) is 503 `unavailable`, its detail naming the failed
/// checks and its `checks` member holding the same checks as a 200.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, description = "Ready or degraded", body = Readiness),
    (status = 503, description = "`unavailable`, with a `checks` member", body = crate::openapi::Problem, content_type = "application/problem+json"),
))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Readiness>, ApiError> {
    let readiness = readiness::check(&state).await;
    if readiness.status == Verdict::Unready {
        let detail = format!("not ready: {}", readiness.failures());
        let checks = serde_json::to_value(&readiness.checks).unwrap_or_default();
        return Err(ApiError::retry_after(ProblemCode::Unavailable, detail, 5)
            .with_member("checks", checks));
    }
    Ok(Json(readiness))
}
