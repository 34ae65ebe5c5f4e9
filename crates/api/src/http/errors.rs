//! How domain errors become problems. One place, so every route answers alike.

use axum::http::StatusCode;
use tenancy::resolution::ResolutionError;
use tenancy::{InvalidTenantId, TenancyError};
use tenantry_auth::TokenError;

use super::ApiError;
use super::framing::Malformed;

impl From<Malformed> for ApiError {
    fn from(e: Malformed) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_request",
            "Malformed request",
            e.to_string(),
        )
    }
}

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

impl From<commerce::CommerceError> for ApiError {
    fn from(e: commerce::CommerceError) -> ApiError {
        use commerce::CommerceError as E;
        match e {
            E::NotFound(what) => ApiError::not_found(format!("{what} not found")),
            E::SkuTaken(sku) => ApiError::conflict(
                "sku_taken",
                format!("sku '{sku}' is already used in this tenant"),
            ),
            E::VersionMismatch { current } => ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "version_mismatch",
                "Version mismatch",
                format!("If-Match does not match the current version {current}"),
            ),
            E::InsufficientStock { product_id } => ApiError::conflict(
                "insufficient_stock",
                format!("not enough stock for product {product_id}"),
            ),
            E::UnknownProducts(ids) => ApiError {
                errors: ids
                    .iter()
                    .map(|id| super::FieldError {
                        field: "lines".into(),
                        message: format!("unknown product {id}"),
                    })
                    .collect(),
                ..ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "unknown_product",
                    "Unknown product",
                    format!("unknown product(s): {}", ids.join(", ")),
                )
            },
            E::InvalidTransition { .. } => ApiError::conflict("invalid_transition", e.to_string()),
            E::IdempotencyKeyReused => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "Idempotency key reused",
                "this Idempotency-Key was used with a different request",
            ),
            E::ProjectionLagging(position) => ApiError::unavailable(
                "projection_lagging",
                format!("the read models have not reached position {position} yet"),
                1,
            ),
            E::Tenancy(e) => e.into(),
            E::Database(ref d) if is_driver_unreachable(d) => {
                tracing::error!(error = %super::ErrorChain(&e), "database unreachable");
                ApiError::unavailable(
                    "unavailable",
                    "the database is unreachable; retry shortly",
                    2,
                )
            }
            other => ApiError::internal(&other),
        }
    }
}

fn is_driver_unreachable(d: &mongodb::error::Error) -> bool {
    use mongodb::error::ErrorKind;
    matches!(
        d.kind.as_ref(),
        ErrorKind::ServerSelection { .. }
            | ErrorKind::Io(_)
            | ErrorKind::ConnectionPoolCleared { .. }
    )
}

impl<E: Into<ApiError>> From<cqrs::DispatchError<E>> for ApiError {
    fn from(e: cqrs::DispatchError<E>) -> ApiError {
        match e {
            cqrs::DispatchError::Invalid(invalid) => ApiError::validation(
                invalid
                    .into_iter()
                    .map(|i| super::FieldError {
                        field: i.field,
                        message: i.message,
                    })
                    .collect(),
            ),
            cqrs::DispatchError::Handler(e) => e.into(),
        }
    }
}
