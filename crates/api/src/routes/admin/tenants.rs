//! Tenant lifecycle handlers: parse, call the provisioner, map the result.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tenancy::provisioning::Created;
use tenancy::{TenantId, TenantStatus};

use super::views::{TenantView, tenant_for_create, tenant_patch};
use crate::extract::{Cursor, JsonObject, PageParams, QueryMap};
use crate::http::{ApiError, ErrorChain};
use crate::state::AppState;

const LIST_SCOPE: &str = "admin:tenants";

pub async fn create_tenant(
    State(state): State<AppState>,
    body: JsonObject,
) -> Result<Response, ApiError> {
    let spec = tenant_for_create(body, tenancy::clusters::DEFAULT_CLUSTER)?;
    let (tenant, created) = state.provisioner.create(&spec).await?;
    let status = if created == Created::New {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(TenantView::from(&tenant))).into_response())
}

pub async fn list_tenants(
    State(state): State<AppState>,
    query: QueryMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let status = match query.get("status") {
        None => None,
        Some(raw) => Some(TenantStatus::parse(raw).ok_or_else(|| {
            ApiError::field(
                "status",
                "must be one of provisioning, active, suspended, deleting",
            )
        })?),
    };
    let scope = format!("{LIST_SCOPE}:{}", status.map_or("all", |s| s.as_str()));
    let page = PageParams::parse(query.get("limit"), query.get("cursor"), &scope)?;
    let after = page
        .after
        .as_deref()
        .map(TenantId::parse)
        .transpose()
        .map_err(|_| ApiError::field("cursor", "is malformed"))?;
    let result = state
        .catalog
        .store()
        .list(status, after.as_ref(), page.limit)
        .await?;
    let items: Vec<TenantView> = result.tenants.iter().map(TenantView::from).collect();
    let next_cursor = result
        .next_after
        .map(|id| Cursor::encode(&scope, id.as_str()));
    Ok(Json(json!({"items": items, "next_cursor": next_cursor})))
}

pub fn parse_id(raw: &str) -> Result<TenantId, ApiError> {
    Ok(TenantId::parse(raw)?)
}

pub async fn get_tenant(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<TenantView>, ApiError> {
    let tenant = state.catalog.store().require(&parse_id(&id)?).await?;
    Ok(Json(TenantView::from(&tenant)))
}

pub async fn update_tenant(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: JsonObject,
) -> Result<Json<TenantView>, ApiError> {
    let id = parse_id(&id)?;
    let patch = tenant_patch(body)?;
    let tenant = state.provisioner.update(&id, &patch).await?;
    Ok(Json(TenantView::from(&tenant)))
}

pub async fn suspend_tenant(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<TenantView>, ApiError> {
    let tenant = state.provisioner.suspend(&parse_id(&id)?).await?;
    Ok(Json(TenantView::from(&tenant)))
}

pub async fn resume_tenant(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<TenantView>, ApiError> {
    let tenant = state.provisioner.resume(&parse_id(&id)?).await?;
    Ok(Json(TenantView::from(&tenant)))
}

/// 202: the tenant is `deleting` now; its database is dropped in the background.
pub async fn delete_tenant(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let tenant = state.provisioner.begin_deletion(&id).await?;
    let provisioner = state.provisioner.clone();
    tokio::spawn(async move {
        if let Err(e) = provisioner.finish_deletion(&id).await {
            tracing::error!(tenant = %id, error = %ErrorChain(&e), "tenant deletion failed; it resumes at the next start");
        }
    });
    Ok((StatusCode::ACCEPTED, Json(TenantView::from(&tenant))).into_response())
}
