//! `GET /v1/tenant`: the resolved tenant, as its own users may see it (viewer role).

use axum::Json;
use serde_json::{Value, json};
use tenantry_auth::Role;

use crate::http::ApiError;
use crate::resolution::Tenanted;

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
