//! `GET /admin/tenants/{id}/export` and `POST /admin/tenants/{id}/import`: a tenant's data as an
//! NDJSON stream and back (`crate::transfer`).

use std::time::Instant;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;

use super::path::TenantPath;
use crate::http::{ApiError, ErrorChain, ProblemCode};
use crate::openapi::{AdminErrors, Problem};
use crate::state::AppState;
use crate::transfer::{self, ImportReport};

const NDJSON: &str = "application/x-ndjson";
/// Lines buffered between the database and a slow client.
const BUFFERED_LINES: usize = 256;

/// The tenant's data as NDJSON: one line `{"collection", "document"}` per document (MongoDB
/// Extended JSON v2, canonical), every collection as of one point in time. Read models and
/// `_meta` are left out (an import rebuilds them), but for the idempotency records there. A failure after the first line ends the
/// stream early (an incomplete transfer).
#[utoipa::path(get, path = "/admin/tenants/{id}/export", security(("admin_key" = [])), tag = "admin",
    params(TenantPath),
    responses((status = 200, description = "The tenant's data", content_type = "application/x-ndjson", body = String), AdminErrors))]
pub async fn export_tenant(
    State(state): State<AppState>,
    TenantPath { id }: TenantPath,
) -> Result<Response, ApiError> {
    let tenant = state.catalog.store().require(&id).await?;
    let db = state.pools.maintenance_db(&tenant).await?;
    let sources = transfer::data_sources(db.database(), state.projector.projections())
        .await
        .map_err(tenancy::TenancyError::from)?;
    let (lines, mut received) = mpsc::channel(BUFFERED_LINES);
    let key = tenant.key();
    tokio::spawn(async move {
        if let Err(e) = transfer::export(db.database(), &sources, lines.clone()).await {
            tracing::error!(tenant = %key, error = %ErrorChain(&e), "export failed; the stream ends early");
            let _ = lines.send(Err(std::io::Error::other(e))).await;
        }
    });
    let stream = futures::stream::poll_fn(move |cx| received.poll_recv(cx));
    let disposition = format!("attachment; filename=\"{}.ndjson\"", tenant.id);
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(NDJSON));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// Loads an export into a tenant that has no events yet; commands wait behind the outbox's
/// import fence (503) meanwhile. Then the read models are rebuilt from the imported outbox.
/// An import that failed or was interrupted can be sent again: what it loaded is cleared first.
#[utoipa::path(post, path = "/admin/tenants/{id}/import", security(("admin_key" = [])), tag = "admin",
    params(TenantPath),
    request_body(content = String, content_type = "application/x-ndjson", description = "An export: NDJSON lines `{collection, document}`"),
    responses(
        (status = 200, description = "Imported and rebuilt", body = ImportReport),
        (status = 409, description = "`tenant_not_empty`, `import_in_progress`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`: send application/x-ndjson", body = Problem, content_type = "application/problem+json"),
        AdminErrors,
    ))]
pub async fn import_tenant(
    State(state): State<AppState>,
    TenantPath { id }: TenantPath,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<ImportReport>, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if !content_type.is_some_and(|c| c.trim_start().starts_with(NDJSON)) {
        let detail = "an import is application/x-ndjson (an export)";
        return Err(ApiError::new(ProblemCode::UnsupportedMediaType, detail));
    }
    let tenant = state.catalog.store().require(&id).await?;
    let db = state.pools.maintenance_db(&tenant).await?;
    let sources = transfer::data_sources(db.database(), state.projector.projections())
        .await
        .map_err(tenancy::TenancyError::from)?;
    let lines = transfer::lines(body.into_data_stream());
    let started = Instant::now();
    let imported = transfer::import(db.database(), &sources, lines).await?;
    let loaded = started.elapsed();
    let rebuilt = state.projector.rebuild(&tenant).await?;
    let report = ImportReport::new(&tenant.id, imported, rebuilt.generation, loaded, started);
    tracing::info!(tenant = %tenant.key(), events = report.imported.last_position, generation = report.generation, load_ms = report.load_ms, rebuild_ms = report.rebuild_ms, "tenant imported");
    Ok(Json(report))
}
