//! `POST /admin/tenants/{id}/tokens`: mint a tenant-scoped HS256 token (development and
//! service-to-service use); only when `TENANTRY_JWT_SECRET` is set.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use tenantry_auth::MintRequest;

use super::path::TenantPath;
use super::views::{TokenForCreate, TokenView};
use crate::extract::{Body, Bounded};
use crate::http::{ApiError, ProblemCode};
use crate::openapi::{AdminErrors, BodyErrors, Problem};
use crate::state::AppState;

/// Mint a tenant-scoped HS256 token (needs `TENANTRY_JWT_SECRET`).
#[utoipa::path(post, path = "/admin/tenants/{id}/tokens", security(("admin_key" = [])), tag = "admin",
    params(TenantPath),
    request_body = TokenForCreate,
    responses(
        (status = 201, description = "Created", body = TokenView),
        (status = 501, description = "`token_signing_disabled`: no HS256 secret configured", body = Problem, content_type = "application/problem+json"),
        AdminErrors, BodyErrors,
    ))]
pub async fn mint_token(
    State(state): State<AppState>,
    TenantPath { id }: TenantPath,
    body: Body<TokenForCreate>,
) -> Result<(StatusCode, Json<TokenView>), ApiError> {
    let minter = state.minter.clone().ok_or_else(|| {
        ApiError::new(
            ProblemCode::TokenSigningDisabled,
            "set TENANTRY_JWT_SECRET to mint tokens",
        )
    })?;
    let tenant = state.catalog.store().require(&id).await?;
    let TokenForCreate {
        sub,
        roles,
        ttl_seconds,
    } = body.value;
    let request = MintRequest {
        sub: sub.0,
        tenant_id: Some(tenant.id.to_string()),
        incarnation: Some(tenant.incarnation.to_string()),
        roles: roles.iter().map(|r| r.as_str().to_string()).collect(),
        ttl_seconds: ttl_seconds.map_or(3600, |Bounded(s)| u64::from(s)),
    };
    let minted = minter.mint(&request).map_err(|e| ApiError::internal(&e))?;
    let expires_at = chrono_free_rfc3339(minted.expires_at);
    let token = TokenView {
        token: minted.token,
        expires_at,
    };
    Ok((StatusCode::CREATED, Json(token)))
}

fn chrono_free_rfc3339(unix_seconds: i64) -> String {
    tenancy::time::rfc3339(mongodb::bson::DateTime::from_millis(
        unix_seconds.saturating_mul(1000),
    ))
}
