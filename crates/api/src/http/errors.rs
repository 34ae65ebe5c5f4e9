//! How domain errors become problems. One place, so every route answers alike.

use super::ProblemCode;
use cqrs::command::CommandError;
use cqrs::projector::ProjectionError;
use cqrs::query::QueryError;
use tenancy::resolution::ResolutionError;
use tenancy::{InvalidTenantId, TenancyError};
use tenantry_auth::TokenError;

use super::ApiError;
use super::framing::Malformed;

impl From<Malformed> for ApiError {
    fn from(e: Malformed) -> ApiError {
        ApiError::new(ProblemCode::MalformedRequest, e.to_string())
    }
}

impl From<InvalidTenantId> for ApiError {
    fn from(e: InvalidTenantId) -> ApiError {
        ApiError::new(ProblemCode::InvalidTenantId, e.to_string())
    }
}

impl From<ResolutionError> for ApiError {
    fn from(e: ResolutionError) -> ApiError {
        match e {
            ResolutionError::InvalidTenantId(e) => e.into(),
            ResolutionError::Conflict => ApiError::new(ProblemCode::TenantConflict, e.to_string()),
            ResolutionError::Mismatch => ApiError::new(ProblemCode::TenantMismatch, e.to_string()),
            ResolutionError::Required => ApiError::new(ProblemCode::TenantRequired, e.to_string()),
        }
    }
}

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> ApiError {
        match e {
            TokenError::Revoked => ApiError::new(ProblemCode::TokenRevoked, e.to_string()),
            // Listed, not a catch-all: a new way of refusing a token must choose its answer.
            TokenError::Malformed
            | TokenError::Expired
            | TokenError::NotYetValid
            | TokenError::BadSignature
            | TokenError::BadIssuer
            | TokenError::BadAudience
            | TokenError::MissingClaim(_)
            | TokenError::UnsupportedAlgorithm(_)
            | TokenError::UnknownKey
            | TokenError::NoKeysConfigured => ApiError::unauthorized(e.to_string()),
        }
    }
}

impl From<TenancyError> for ApiError {
    fn from(e: TenancyError) -> ApiError {
        tenancy_problem(&e)
    }
}

/// A shared failure (one single-flight lookup answers every waiter) maps like an owned one: all
/// waiters of an unreachable database get 503, not only the first.
impl From<std::sync::Arc<TenancyError>> for ApiError {
    fn from(e: std::sync::Arc<TenancyError>) -> ApiError {
        tenancy_problem(&e)
    }
}

fn tenancy_problem(e: &TenancyError) -> ApiError {
    match e {
        TenancyError::NotFound(id) => ApiError::new(
            ProblemCode::TenantNotFound,
            format!("tenant '{id}' does not exist"),
        ),
        TenancyError::Exists(id) => ApiError::new(
            ProblemCode::TenantExists,
            format!("tenant '{id}' exists with other settings"),
        ),
        TenancyError::DomainTaken(d) => ApiError::new(
            ProblemCode::DomainTaken,
            format!("domain '{d}' belongs to another tenant"),
        ),
        TenancyError::IssuerTaken(issuer) => ApiError::new(
            ProblemCode::IssuerTaken,
            format!("issuer '{issuer}' is the identity provider of another tenant"),
        ),
        TenancyError::InvalidState { .. } => {
            ApiError::new(ProblemCode::InvalidTenantState, e.to_string())
        }
        TenancyError::UnknownCluster(name) => {
            ApiError::field("cluster", format!("unknown cluster '{name}'"))
        }
        TenancyError::BudgetExhausted(_) => ApiError::retry_after(
            ProblemCode::Unavailable,
            "the tenant has too many requests in flight; retry shortly",
            1,
        ),
        TenancyError::ClusterDown(_) => ApiError::retry_after(
            ProblemCode::Unavailable,
            "the database is unreachable; retry shortly",
            2,
        ),
        TenancyError::Fenced(id) => tenant_gone(id.as_str()),
        TenancyError::Abandoned(a) => busy(a),
        TenancyError::Database(d) | TenancyError::Migration { source: d, .. } => {
            database_error(d, e)
        }
        TenancyError::Decode(_) | TenancyError::Encode(_) => ApiError::internal(e),
    }
}

/// Codes of an operation the database ended before it finished: its cursor is gone
/// (`CursorNotFound`, `CursorKilled`) or it was interrupted. Another instance that took this one
/// for dead ends its sessions (`tenancy::fleet`), an idle cursor times out: a retry succeeds.
const ENDED_BY_THE_DATABASE: [i32; 3] = [43, 237, 11601];

/// A driver error: 503 when the database is unreachable or overloaded, or ended the operation
/// (a retry succeeds); 500 otherwise.
fn database_error(
    d: &mongodb::error::Error,
    cause: &(dyn std::error::Error + 'static),
) -> ApiError {
    use mongodb::error::{ErrorKind, TRANSIENT_TRANSACTION_ERROR};
    let unreachable = matches!(
        d.kind.as_ref(),
        ErrorKind::ServerSelection { .. }
            | ErrorKind::Io(_)
            | ErrorKind::ConnectionPoolCleared { .. }
    );
    if let ErrorKind::Command(c) = d.kind.as_ref()
        && ENDED_BY_THE_DATABASE.contains(&c.code)
    {
        tracing::warn!(error = %super::ErrorChain(cause), "the database ended an operation");
        return ApiError::retry_after(
            ProblemCode::Unavailable,
            "the database ended this operation (its cursor or session was ended); retry",
            1,
        );
    }
    if unreachable || d.contains_label(TRANSIENT_TRANSACTION_ERROR) {
        tracing::error!(error = %super::ErrorChain(cause), "database unreachable or busy");
        return ApiError::retry_after(
            ProblemCode::Unavailable,
            "the database is unreachable or busy; retry shortly",
            2,
        );
    }
    ApiError::internal(cause)
}

/// A transaction given up after its deadline (conflicts, a stalled database, a transaction a
/// crashed instance left open that is not ended yet).
fn busy(a: &tenancy::transaction::Abandoned) -> ApiError {
    tracing::warn!(error = %a, "transaction abandoned at its deadline");
    ApiError::retry_after(
        ProblemCode::Unavailable,
        "the tenant's data is busy; retry shortly",
        1,
    )
}

/// Work of a tenant incarnation that is being deleted.
fn tenant_gone(id: &str) -> ApiError {
    ApiError::retry_after(
        ProblemCode::TenantUnavailable,
        format!("tenant '{id}' is being deleted"),
        5,
    )
}

impl From<CommandError> for ApiError {
    fn from(e: CommandError) -> ApiError {
        match e {
            CommandError::Fenced => ApiError::retry_after(
                ProblemCode::TenantUnavailable,
                "the tenant's writes are fenced: it is being deleted, or its move is cutting over",
                2,
            ),
            CommandError::IdempotencyKeyReused => ApiError::new(
                ProblemCode::IdempotencyKeyReused,
                "this Idempotency-Key was used with a different request",
            ),
            CommandError::IdempotencyKeyInFlight => ApiError {
                retry_after_secs: Some(1),
                ..ApiError::new(
                    ProblemCode::IdempotencyKeyInFlight,
                    "a request with this Idempotency-Key is still being processed; retry shortly",
                )
            },
            CommandError::VersionMismatch { current } => ApiError::new(
                ProblemCode::VersionMismatch,
                format!("If-Match does not match the current version {current}"),
            ),
            CommandError::Abandoned(ref a) => busy(a),
            CommandError::Database(ref d) => database_error(d, &e),
            CommandError::Decode(_)
            | CommandError::Encode(_)
            | CommandError::DuplicateKey
            | CommandError::Lost => ApiError::internal(&e),
        }
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> ApiError {
        match e {
            QueryError::ProjectionLagging(position) => ApiError::retry_after(
                ProblemCode::ProjectionLagging,
                format!("the read models have not reached position {position} yet"),
                1,
            ),
            QueryError::Tenancy(t) => t.into(),
            QueryError::Database(ref d) => database_error(d, &e),
        }
    }
}

impl From<ProjectionError> for ApiError {
    fn from(e: ProjectionError) -> ApiError {
        match e {
            ProjectionError::RebuildInProgress => ApiError::new(
                ProblemCode::RebuildInProgress,
                "a rebuild of this tenant's read models is already running",
            ),
            ProjectionError::Fenced(_) => tenant_gone("this"),
            ProjectionError::Abandoned(ref a) => busy(a),
            ProjectionError::Database(ref d) => database_error(d, &e),
            ProjectionError::Poison(_)
            | ProjectionError::Stale
            | ProjectionError::Decode(_)
            | ProjectionError::Encode(_) => ApiError::internal(&e),
        }
    }
}

impl From<commerce::CommerceError> for ApiError {
    fn from(e: commerce::CommerceError) -> ApiError {
        use commerce::CommerceError as E;
        match e {
            E::NotFound(what) => ApiError::not_found(format!("{what} not found")),
            E::SkuTaken(sku) => ApiError::new(
                ProblemCode::SkuTaken,
                format!("sku '{sku}' is already used in this tenant"),
            ),
            E::InsufficientStock { product_id } => ApiError::new(
                ProblemCode::InsufficientStock,
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
                    ProblemCode::UnknownProduct,
                    format!("unknown product(s): {}", ids.join(", ")),
                )
            },
            E::InvalidTransition { .. } => {
                ApiError::new(ProblemCode::InvalidTransition, e.to_string())
            }
            E::Command(c) => c.into(),
            E::Query(q) => q.into(),
            E::Tenancy(t) => t.into(),
            E::Projection(p) => p.into(),
            E::Database(ref d) => database_error(d, &e),
            E::Decode(_) | E::Encode(_) => ApiError::internal(&e),
        }
    }
}

impl From<tenancy::moves::MoveError> for ApiError {
    fn from(e: tenancy::moves::MoveError) -> ApiError {
        use tenancy::moves::MoveError as E;
        match e {
            E::Tenancy(t) => t.into(),
            E::InProgress(_) => ApiError::new(ProblemCode::MoveInProgress, e.to_string()),
            E::SameCluster { .. } | E::Outdated(_) | E::Gone => {
                ApiError::new(ProblemCode::InvalidTenantState, e.to_string())
            }
            E::Verify(_) | E::Changes(_) | E::StreamBehind(_) | E::Copy(_) | E::TakenOver => {
                ApiError::internal(&e)
            }
        }
    }
}

impl From<crate::transfer::ImportError> for ApiError {
    fn from(e: crate::transfer::ImportError) -> ApiError {
        use crate::transfer::ImportError as E;
        match e {
            E::NotEmpty => ApiError::new(ProblemCode::TenantNotEmpty, e.to_string()),
            E::InProgress | E::TakenOver => {
                ApiError::new(ProblemCode::ImportInProgress, e.to_string())
            }
            E::Line { ref message, line } => ApiError::field(format!("line {line}"), message),
            E::Gaps { .. } => ApiError::field("outbox", e.to_string()),
            E::Read(_) => ApiError::field("$", e.to_string()),
            E::Database(ref d) => database_error(d, &e),
        }
    }
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn a_shared_failure_maps_like_an_owned_one() {
        let shared = Arc::new(TenancyError::ClusterDown("eu".into()));
        let waiters = [shared.clone(), shared];
        for waiter in waiters {
            let problem = ApiError::from(waiter);
            assert_eq!(problem.status, axum::http::StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(problem.code, ProblemCode::Unavailable);
        }
    }

    /// A read whose cursor the database ended (here: a `getMore` on a cursor that does not
    /// exist, the error a killed session's cursor gives) is retried by the client, not a 500.
    #[tokio::test]
    async fn an_operation_the_database_ended_is_worth_a_retry() {
        let client = mongodb::Client::with_uri_str(testkit::mongodb_uri())
            .await
            .expect("a client");
        let ended = client
            .database("admin")
            .run_command(mongodb::bson::doc! {"getMore": 12_345_i64, "collection": "gone"})
            .await
            .expect_err("no such cursor");
        let problem = ApiError::from(QueryError::Database(ended));
        assert_eq!(problem.status, axum::http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(problem.code, ProblemCode::Unavailable);
        assert_eq!(problem.retry_after_secs, Some(1));
    }
}
