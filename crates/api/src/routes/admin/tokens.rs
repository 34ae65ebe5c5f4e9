//! `POST /admin/tenants/{id}/tokens`: mint a tenant-scoped HS256 token (development and
//! service-to-service use); only when `TENANTRY_JWT_SECRET` is set.

use crate::http::ProblemCode;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::json;
use tenantry_auth::{MintRequest, Role};

use super::tenants::parse_id;
use super::views::{TokenForCreate, TokenView};
use crate::extract::{Fields, JsonObject};
use crate::http::ApiError;
use crate::openapi::{AdminErrors, BodyErrors, Problem};
use crate::state::AppState;

const MAX_TTL_SECONDS: u64 = 30 * 24 * 3600;

/// Mint a tenant-scoped HS256 token (needs `TENANTRY_JWT_SECRET`).
#[utoipa::path(post, path = "/admin/tenants/{id}/tokens", security(("admin_key" = [])), tag = "admin",
    params(("id" = String, Path, description = "Tenant id")),
    request_body = TokenForCreate,
    responses(
        (status = 201, description = "Created", body = TokenView),
        (status = 501, description = "`token_signing_disabled`: no HS256 secret configured", body = Problem, content_type = "application/problem+json"),
        AdminErrors, BodyErrors,
    ))]
pub async fn mint_token(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: JsonObject,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let id = parse_id(&id)?;
    let minter = state.minter.clone().ok_or_else(|| {
        ApiError::new(
            ProblemCode::TokenSigningDisabled,
            "set TENANTRY_JWT_SECRET to mint tokens",
        )
    })?;
    let mut f = Fields::new(body);
    let sub: Option<String> = f.required("sub");
    let roles: Option<Vec<String>> = f.required("roles");
    let ttl: Option<u64> = f.optional("ttl_seconds");
    if sub
        .as_deref()
        .is_some_and(|s| s.trim().is_empty() || s.len() > 256)
    {
        f.reject("sub", "must have 1 to 256 characters");
    }
    for (i, role) in roles.iter().flatten().enumerate() {
        if role.parse::<Role>().is_err() {
            f.reject(&format!("roles[{i}]"), "must be viewer, member or admin");
        }
    }
    let ttl = ttl.unwrap_or(3600);
    if !(1..=MAX_TTL_SECONDS).contains(&ttl) {
        f.reject(
            "ttl_seconds",
            format!("must be from 1 to {MAX_TTL_SECONDS}"),
        );
    }
    f.finish()?;
    let tenant = state.catalog.store().require(&id).await?;
    let request = MintRequest {
        sub: sub.unwrap_or_default(),
        tenant_id: Some(tenant.id.to_string()),
        incarnation: Some(tenant.incarnation.to_string()),
        roles: roles.unwrap_or_default(),
        ttl_seconds: ttl,
    };
    let minted = minter.mint(&request).map_err(|e| ApiError::internal(&e))?;
    let expires_at = chrono_free_rfc3339(minted.expires_at);
    Ok((
        StatusCode::CREATED,
        Json(json!({"token": minted.token, "expires_at": expires_at})),
    ))
}

fn chrono_free_rfc3339(unix_seconds: i64) -> String {
    tenancy::time::rfc3339(mongodb::bson::DateTime::from_millis(
        unix_seconds.saturating_mul(1000),
    ))
}
