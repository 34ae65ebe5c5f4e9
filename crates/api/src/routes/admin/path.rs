//! `{id}` of the admin tenant routes: a typed extractor that is also its OpenAPI parameter.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use tenancy::TenantId;
use utoipa::IntoParams;

use crate::http::ApiError;

/// A tenant id in the path; a malformed one is 400 `invalid_tenant_id`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TenantPath {
    /// Tenant id: a DNS label, not a reserved word (`admin`, `api`, `www`, ...).
    #[param(value_type = String, pattern = "^[a-z0-9][a-z0-9-]{1,30}[a-z0-9]$")]
    pub id: TenantId,
}

impl<S: Send + Sync> FromRequestParts<S> for TenantPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<TenantPath, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::field("id", "is not a valid path segment"))?;
        Ok(TenantPath {
            id: TenantId::parse(&raw)?,
        })
    }
}
