//! The catalogue of problem codes: every `code` a problem document of the API can carry, with
//! its HTTP status and title, in one place. An error is answered by naming its code; the status
//! and title follow from it, so they cannot drift apart. The CLI's `--json` errors use the same
//! names, and OpenAPI lists them (`ProblemCode` schema).

use axum::http::StatusCode;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProblemCode {
    // 400
    ValidationFailed,
    InvalidTenantId,
    TenantConflict,
    TenantRequired,
    MalformedRequest,
    BadRequest,
    // 401
    Unauthorized,
    TokenRevoked,
    // 403
    Forbidden,
    TenantMismatch,
    TenantSuspended,
    // 404
    NotFound,
    TenantNotFound,
    // 405
    MethodNotAllowed,
    // 409
    TenantExists,
    DomainTaken,
    IssuerTaken,
    SkuTaken,
    InsufficientStock,
    InvalidTransition,
    InvalidTenantState,
    IdempotencyKeyInFlight,
    RebuildInProgress,
    TenantNotEmpty,
    ImportInProgress,
    MoveInProgress,
    // 412
    VersionMismatch,
    // 413
    PayloadTooLarge,
    // 415
    UnsupportedMediaType,
    // 422
    UnknownProduct,
    IdempotencyKeyReused,
    // 429
    RateLimited,
    // 500
    Internal,
    // 501
    TokenSigningDisabled,
    // 503
    Unavailable,
    TenantUnavailable,
    ProjectionLagging,
}

impl ProblemCode {
    /// Every code, in the order above.
    pub const ALL: [ProblemCode; 37] = [
        ProblemCode::ValidationFailed,
        ProblemCode::InvalidTenantId,
        ProblemCode::TenantConflict,
        ProblemCode::TenantRequired,
        ProblemCode::MalformedRequest,
        ProblemCode::BadRequest,
        ProblemCode::Unauthorized,
        ProblemCode::TokenRevoked,
        ProblemCode::Forbidden,
        ProblemCode::TenantMismatch,
        ProblemCode::TenantSuspended,
        ProblemCode::NotFound,
        ProblemCode::TenantNotFound,
        ProblemCode::MethodNotAllowed,
        ProblemCode::TenantExists,
        ProblemCode::DomainTaken,
        ProblemCode::IssuerTaken,
        ProblemCode::SkuTaken,
        ProblemCode::InsufficientStock,
        ProblemCode::InvalidTransition,
        ProblemCode::InvalidTenantState,
        ProblemCode::IdempotencyKeyInFlight,
        ProblemCode::RebuildInProgress,
        ProblemCode::TenantNotEmpty,
        ProblemCode::ImportInProgress,
        ProblemCode::MoveInProgress,
        ProblemCode::VersionMismatch,
        ProblemCode::PayloadTooLarge,
        ProblemCode::UnsupportedMediaType,
        ProblemCode::UnknownProduct,
        ProblemCode::IdempotencyKeyReused,
        ProblemCode::RateLimited,
        ProblemCode::Internal,
        ProblemCode::TokenSigningDisabled,
        ProblemCode::Unavailable,
        ProblemCode::TenantUnavailable,
        ProblemCode::ProjectionLagging,
    ];

    /// The `code` member, e.g. `tenant_not_found`.
    pub const fn as_str(self) -> &'static str {
        use ProblemCode as C;
        match self {
            C::ValidationFailed => "validation_failed",
            C::InvalidTenantId => "invalid_tenant_id",
            C::TenantConflict => "tenant_conflict",
            C::TenantRequired => "tenant_required",
            C::MalformedRequest => "malformed_request",
            C::BadRequest => "bad_request",
            C::Unauthorized => "unauthorized",
            C::TokenRevoked => "token_revoked",
            C::Forbidden => "forbidden",
            C::TenantMismatch => "tenant_mismatch",
            C::TenantSuspended => "tenant_suspended",
            C::NotFound => "not_found",
            C::TenantNotFound => "tenant_not_found",
            C::MethodNotAllowed => "method_not_allowed",
            C::TenantExists => "tenant_exists",
            C::DomainTaken => "domain_taken",
            C::IssuerTaken => "issuer_taken",
            C::SkuTaken => "sku_taken",
            C::InsufficientStock => "insufficient_stock",
            C::InvalidTransition => "invalid_transition",
            C::InvalidTenantState => "invalid_tenant_state",
            C::IdempotencyKeyInFlight => "idempotency_key_in_flight",
            C::RebuildInProgress => "rebuild_in_progress",
            C::TenantNotEmpty => "tenant_not_empty",
            C::ImportInProgress => "import_in_progress",
            C::MoveInProgress => "move_in_progress",
            C::VersionMismatch => "version_mismatch",
            C::PayloadTooLarge => "payload_too_large",
            C::UnsupportedMediaType => "unsupported_media_type",
            C::UnknownProduct => "unknown_product",
            C::IdempotencyKeyReused => "idempotency_key_reused",
            C::RateLimited => "rate_limited",
            C::Internal => "internal",
            C::TokenSigningDisabled => "token_signing_disabled",
            C::Unavailable => "unavailable",
            C::TenantUnavailable => "tenant_unavailable",
            C::ProjectionLagging => "projection_lagging",
        }
    }

    pub const fn status(self) -> StatusCode {
        use ProblemCode as C;
        match self {
            C::ValidationFailed
            | C::InvalidTenantId
            | C::TenantConflict
            | C::TenantRequired
            | C::MalformedRequest
            | C::BadRequest => StatusCode::BAD_REQUEST,
            C::Unauthorized | C::TokenRevoked => StatusCode::UNAUTHORIZED,
            C::Forbidden | C::TenantMismatch | C::TenantSuspended => StatusCode::FORBIDDEN,
            C::NotFound | C::TenantNotFound => StatusCode::NOT_FOUND,
            C::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            C::TenantExists
            | C::DomainTaken
            | C::IssuerTaken
            | C::SkuTaken
            | C::InsufficientStock
            | C::InvalidTransition
            | C::InvalidTenantState
            | C::IdempotencyKeyInFlight
            | C::RebuildInProgress
            | C::TenantNotEmpty
            | C::ImportInProgress
            | C::MoveInProgress => StatusCode::CONFLICT,
            C::VersionMismatch => StatusCode::PRECONDITION_FAILED,
            C::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            C::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            C::UnknownProduct | C::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            C::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            C::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            C::TokenSigningDisabled => StatusCode::NOT_IMPLEMENTED,
            C::Unavailable | C::TenantUnavailable | C::ProjectionLagging => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    /// The problem's `title`: the same for every occurrence of the code.
    pub const fn title(self) -> &'static str {
        use ProblemCode as C;
        match self {
            C::ValidationFailed => "Validation failed",
            C::InvalidTenantId => "Invalid tenant id",
            C::TenantConflict => "Tenant conflict",
            C::TenantRequired => "Tenant required",
            C::MalformedRequest => "Malformed request",
            C::BadRequest => "Bad request",
            C::Unauthorized => "Unauthorized",
            C::TokenRevoked => "Token revoked",
            C::Forbidden => "Forbidden",
            C::TenantMismatch => "Tenant mismatch",
            C::TenantSuspended => "Tenant suspended",
            C::NotFound => "Not found",
            C::TenantNotFound => "Tenant not found",
            C::MethodNotAllowed => "Method not allowed",
            C::TenantExists => "Tenant exists",
            C::DomainTaken => "Domain taken",
            C::IssuerTaken => "Issuer taken",
            C::SkuTaken => "SKU taken",
            C::InsufficientStock => "Insufficient stock",
            C::InvalidTransition => "Invalid transition",
            C::InvalidTenantState => "Invalid tenant state",
            C::IdempotencyKeyInFlight => "Idempotency key in flight",
            C::RebuildInProgress => "Rebuild in progress",
            C::TenantNotEmpty => "Tenant not empty",
            C::ImportInProgress => "Import in progress",
            C::MoveInProgress => "Move in progress",
            C::VersionMismatch => "Version mismatch",
            C::PayloadTooLarge => "Payload too large",
            C::UnsupportedMediaType => "Unsupported media type",
            C::UnknownProduct => "Unknown product",
            C::IdempotencyKeyReused => "Idempotency key reused",
            C::RateLimited => "Rate limited",
            C::Internal => "Internal error",
            C::TokenSigningDisabled => "Token signing disabled",
            C::Unavailable | C::ProjectionLagging => "Service unavailable",
            C::TenantUnavailable => "Tenant unavailable",
        }
    }
}

impl std::fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::ProblemCode;

    #[test]
    fn every_code_is_listed_once_and_serialises_as_its_name() {
        let names: HashSet<&str> = ProblemCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), ProblemCode::ALL.len());
        for code in ProblemCode::ALL {
            assert_eq!(
                serde_json::to_value(code).unwrap(),
                serde_json::json!(code.as_str())
            );
            assert!(code.status().is_client_error() || code.status().is_server_error());
        }
    }
}
