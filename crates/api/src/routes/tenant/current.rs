//! `GET /v1/tenant`: the resolved tenant, as its own users may see it (viewer role).

use axum::Json;
use serde::Serialize;
use tenancy::TenantStatus;
use tenantry_auth::Role;
use utoipa::ToSchema;

use crate::http::ApiError;
use crate::openapi::TenantErrors;
use crate::resolution::Tenanted;

/// The resolved tenant and who is asking.
#[derive(Debug, Serialize, ToSchema)]
pub struct CurrentTenant {
    pub id: String,
    pub name: String,
    pub status: TenantStatus,
    pub plan: String,
    pub schema_version: u32,
    /// The token's subject.
    pub subject: String,
    /// The token's roles.
    pub roles: Vec<String>,
}

/// The resolved tenant (viewer).
#[utoipa::path(get, path = "/v1/tenant", security(("jwt" = [])), tag = "tenant",
    params(Tenanted),
    responses((status = 200, description = "OK", body = CurrentTenant), TenantErrors))]
pub async fn current_tenant(
    Tenanted { ctx, principal, .. }: Tenanted,
) -> Result<Json<CurrentTenant>, ApiError> {
    principal.require(Role::Viewer)?;
    let tenant = ctx.tenant();
    Ok(Json(CurrentTenant {
        id: tenant.id.to_string(),
        name: tenant.name.clone(),
        status: tenant.status,
        plan: tenant.plan.clone(),
        schema_version: tenant.schema_version,
        subject: ctx.actor().to_string(),
        roles: principal.claims.roles.clone(),
    }))
}
