//! `/healthz` (the process is up) and `/readyz` (the catalog cluster answers a ping).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use mongodb::bson::doc;
use serde_json::{Value, json};

use crate::http::ApiError;
use crate::state::AppState;

/// The process is up (no dependencies checked).
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "`{\"status\": \"ok\"}`", body = Object)))]
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// The catalog cluster answers; 503 `unavailable` otherwise.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, description = "`{\"status\": \"ready\"}`", body = Object),
    (status = 503, description = "`unavailable`", body = crate::openapi::Problem, content_type = "application/problem+json"),
))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let ping = state
        .catalog
        .store()
        .database()
        .run_command(doc! {"ping": 1});
    match tokio::time::timeout(Duration::from_secs(2), ping).await {
        Ok(Ok(_)) => Ok(Json(json!({"status": "ready"}))),
        _ => Err(ApiError::unavailable(
            "unavailable",
            "the catalog database is unreachable",
            5,
        )),
    }
}
