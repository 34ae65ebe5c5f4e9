//! How domain errors become problems. One place, so every route answers alike.

use axum::http::StatusCode;
use tenancy::resolution::ResolutionError;
use tenancy::{InvalidTenantId, TenancyError};
use tenantry_auth::TokenError;

use super::ApiError;

impl From<InvalidTenantId> for ApiError {
    fn from(e: InvalidTenantId) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_tenant_id",
            "Invalid tenant id",
            e.to_string(),
        )
    }
}

impl From<ResolutionError> for ApiError {
    fn from(e: ResolutionError) -> ApiError {
        match e {
            ResolutionError::InvalidTenantId(e) => e.into(),
            ResolutionError::Conflict => ApiError::new(
                StatusCode::BAD_REQUEST,
                "tenant_conflict",
                "Tenant conflict",
                e.to_string(),
            ),
            ResolutionError::Mismatch => ApiError::new(
                StatusCode::FORBIDDEN,
                "tenant_mismatch",
                "Tenant mismatch",
                e.to_string(),
            ),
            ResolutionError::Required => ApiError::new(
                StatusCode::BAD_REQUEST,
                "tenant_required",
                "Tenant required",
                e.to_string(),
            ),
        }
    }
}

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> ApiError {
        ApiError::unauthorized(e.to_string())
    }
}

impl From<TenancyError> for ApiError {
    fn from(e: TenancyError) -> ApiError {
        match &e {
            TenancyError::NotFound(id) => ApiError::new(
                StatusCode::NOT_FOUND,
                "tenant_not_found",
                "Tenant not found",
                format!("tenant '{id}' does not exist"),
            ),
            TenancyError::Exists(id) => ApiError::conflict(
                "tenant_exists",
                format!("tenant '{id}' exists with other settings"),
            ),
            TenancyError::DomainTaken(d) => ApiError::conflict(
                "domain_taken",
                format!("domain '{d}' belongs to another tenant"),
            ),
            TenancyError::InvalidState { .. } => {
                ApiError::conflict("invalid_tenant_state", e.to_string())
            }
            TenancyError::UnknownCluster(name) => {
                ApiError::field("cluster", format!("unknown cluster '{name}'"))
            }
            TenancyError::BudgetExhausted(_) => ApiError::unavailable(
                "unavailable",
                "the tenant has too many requests in flight; retry shortly",
                1,
            ),
            TenancyError::Database(_) | TenancyError::Migration { .. } if is_unreachable(&e) => {
                tracing::error!(error = %super::ErrorChain(&e), "database unreachable");
                ApiError::unavailable(
                    "unavailable",
                    "the database is unreachable; retry shortly",
                    2,
                )
            }
            _ => ApiError::internal(&e),
        }
    }
}

fn is_unreachable(e: &TenancyError) -> bool {
    use mongodb::error::ErrorKind;
    let driver = match e {
        TenancyError::Database(d) | TenancyError::Migration { source: d, .. } => d,
        _ => return false,
    };
    matches!(
        driver.kind.as_ref(),
        ErrorKind::ServerSelection { .. }
            | ErrorKind::Io(_)
            | ErrorKind::ConnectionPoolCleared { .. }
    )
}

impl From<std::sync::Arc<TenancyError>> for ApiError {
    fn from(e: std::sync::Arc<TenancyError>) -> ApiError {
        match std::sync::Arc::try_unwrap(e) {
            Ok(e) => e.into(),
            Err(shared) => ApiError::internal(&*shared),
        }
    }
}
