//! `GET /v1/tenant`: the resolved tenant, as its own users may see it (viewer role).

use axum::Json;
use serde_json::{Value, json};
use tenantry_auth::Role;

use crate::http::ApiError;
use crate::openapi::{TenantErrors, TenantSelectors};
use crate::resolution::Tenanted;

/// The resolved tenant (viewer).
#[utoipa::path(get, path = "/v1/tenant", security(("jwt" = [])), tag = "tenant",
    params(TenantSelectors),
    responses((status = 200, description = "`{id, name, status, plan, schema_version, subject, roles}`", body = Object), TenantErrors))]
pub async fn current_tenant(
    Tenanted { ctx, principal, .. }: Tenanted,
) -> Result<Json<Value>, ApiError> {
    principal.require(Role::Viewer)?;
    let tenant = ctx.tenant();
    Ok(Json(json!({
        "id": tenant.id,
        "name": tenant.name,
        "status": tenant.status,
        "plan": tenant.plan,
        "schema_version": tenant.schema_version,
        "subject": ctx.actor(),
        "roles": principal.claims.roles,
    })))
}
