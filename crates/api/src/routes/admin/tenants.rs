//! Tenant lifecycle handlers: parse, call the provisioner, map the result.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tenancy::catalog;
use tenancy::lifecycle::Created;
use tenancy::{TenantId, TenantStatus};

use super::path::TenantPath;
use super::views::{TenantForCreate, TenantForUpdate, TenantView};
use crate::extract::{Body, Cursor, PageParams, PageQuery};
use crate::http::{ApiError, ErrorChain};
use crate::openapi::{AdminErrors, BodyErrors, Problem};
use crate::state::AppState;
use crate::views::ListPage;

crate::query_params! {
    /// The filter of `GET /admin/tenants`.
    pub struct TenantFilter {
        /// Only tenants in this status.
        #[param(nullable = false)]
        pub status: Option<TenantStatus>,
        /// Only tenants whose id starts with, or whose name contains (ignoring case), this text.
        #[param(nullable = false)]
        pub q: Option<String>,
    }
}

const LIST_SCOPE: &str = "admin:tenants";

/// Provision a tenant: its database, collections, indexes and migrations, then `active`.
#[utoipa::path(post, path = "/admin/tenants", security(("admin_key" = [])), tag = "admin",
    request_body = TenantForCreate,
    responses(
        (status = 201, description = "Provisioned", body = TenantView),
        (status = 200, description = "Already provisioned with this same request", body = TenantView),
        (status = 409, description = "`tenant_exists` (other settings), `domain_taken`, `issuer_taken`", body = Problem, content_type = "application/problem+json"),
        AdminErrors, BodyErrors,
    ))]
pub async fn create_tenant(
    State(state): State<AppState>,
    body: Body<TenantForCreate>,
) -> Result<Response, ApiError> {
    let spec = body.value.into_spec(tenancy::clusters::DEFAULT_CLUSTER)?;
    let (tenant, created) = state.provisioner.create(&spec).await?;
    let status = if created == Created::New {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(TenantView::from(&tenant))).into_response())
}

/// List tenants by id.
#[utoipa::path(get, path = "/admin/tenants", security(("admin_key" = [])), tag = "admin",
    params(TenantFilter, PageQuery),
    responses((status = 200, description = "OK", body = ListPage<TenantView>), AdminErrors))]
pub async fn list_tenants(
    State(state): State<AppState>,
    TenantFilter { status, q }: TenantFilter,
    page: PageQuery,
) -> Result<Json<ListPage<TenantView>>, ApiError> {
    // A cursor continues only the list it came from: same status, same search.
    let search = q.filter(|q| !q.is_empty());
    let scope = format!(
        "{LIST_SCOPE}:{}:{}",
        status.map_or("all", |s| s.as_str()),
        search.as_deref().unwrap_or("")
    );
    let page = PageParams::parse(&page, &scope)?;
    let after = page
        .after
        .as_deref()
        .map(TenantId::parse)
        .transpose()
        .map_err(|_| ApiError::field("cursor", "is malformed"))?;
    let result = state
        .catalog
        .store()
        .list(
            &catalog::TenantFilter { status, search },
            after.as_ref(),
            page.limit,
        )
        .await?;
    let items: Vec<TenantView> = result.tenants.iter().map(TenantView::from).collect();
    let next_cursor = result
        .next_after
        .map(|id| Cursor::encode(&scope, id.as_str()));
    Ok(Json(ListPage { items, next_cursor }))
}

/// One tenant.
#[utoipa::path(get, path = "/admin/tenants/{id}", security(("admin_key" = [])), tag = "admin",
    params(TenantPath),
    responses((status = 200, description = "OK", body = TenantView), AdminErrors))]
pub async fn get_tenant(
    State(state): State<AppState>,
    TenantPath { id }: TenantPath,
) -> Result<Json<TenantView>, ApiError> {
    let tenant = state.catalog.store().require(&id).await?;
    Ok(Json(TenantView::from(&tenant)))
}

/// Change name, plan, limits or custom domains.
#[utoipa::path(patch, path = "/admin/tenants/{id}", security(("admin_key" = [])), tag = "admin",
    params(TenantPath),
    request_body = TenantForUpdate,
    responses(
        (status = 200, description = "OK", body = TenantView),
        (status = 409, description = "`domain_taken`, `issuer_taken`, `invalid_tenant_state`", body = Problem, content_type = "application/problem+json"),
        AdminErrors, BodyErrors,
    ))]
pub async fn update_tenant(
    State(state): State<AppState>,
    TenantPath { id }: TenantPath,
    body: Body<TenantForUpdate>,
) -> Result<Json<TenantView>, ApiError> {
    let patch = body.value.into();
    let tenant = state.provisioner.update(&id, &patch).await?;
    Ok(Json(TenantView::from(&tenant)))
}

/// Suspend: the tenant's requests get 403 `tenant_suspended` on every instance.
#[utoipa::path(post, path = "/admin/tenants/{id}/suspend", security(("admin_key" = [])), tag = "admin",
    params(TenantPath),
    responses((status = 200, description = "OK", body = TenantView), (status = 409, description = "`invalid_tenant_state`", body = Problem, content_type = "application/problem+json"), AdminErrors))]
pub async fn suspend_tenant(
    State(state): State<AppState>,
    TenantPath { id }: TenantPath,
) -> Result<Json<TenantView>, ApiError> {
    let tenant = state.provisioner.suspend(&id).await?;
    Ok(Json(TenantView::from(&tenant)))
}

/// Resume a suspended tenant.
#[utoipa::path(post, path = "/admin/tenants/{id}/resume", security(("admin_key" = [])), tag = "admin",
    params(TenantPath),
    responses((status = 200, description = "OK", body = TenantView), (status = 409, description = "`invalid_tenant_state`", body = Problem, content_type = "application/problem+json"), AdminErrors))]
pub async fn resume_tenant(
    State(state): State<AppState>,
    TenantPath { id }: TenantPath,
) -> Result<Json<TenantView>, ApiError> {
    let tenant = state.provisioner.resume(&id).await?;
    Ok(Json(TenantView::from(&tenant)))
}

/// 202: the tenant is `deleting` now; its database is dropped in the background.
#[utoipa::path(delete, path = "/admin/tenants/{id}", security(("admin_key" = [])), tag = "admin",
    params(TenantPath),
    responses((status = 202, description = "Deletion started", body = TenantView), AdminErrors))]
pub async fn delete_tenant(
    State(state): State<AppState>,
    TenantPath { id }: TenantPath,
) -> Result<Response, ApiError> {
    let tenant = state.provisioner.begin_deletion(&id).await?;
    let provisioner = state.provisioner.clone();
    let key = tenant.key();
    tokio::spawn(async move {
        if let Err(e) = provisioner.finish_deletion(&key).await {
            tracing::error!(tenant = %key, error = %ErrorChain(&e), "tenant deletion failed; the deletion sweep of any instance resumes it");
        }
    });
    Ok((StatusCode::ACCEPTED, Json(TenantView::from(&tenant))).into_response())
}
