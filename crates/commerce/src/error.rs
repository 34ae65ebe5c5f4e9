//! `CommerceError`: what can go wrong in the sample domain, in its own terms.

use cqrs::projector::ProjectionError;
use cqrs::transaction::DriverError;
use tenancy::TenancyError;

#[derive(Debug, thiserror::Error)]
pub enum CommerceError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("sku '{0}' is taken")]
    SkuTaken(String),
    #[error("version mismatch: the current version is {current}")]
    VersionMismatch { current: i64 },
    #[error("not enough stock for product {product_id}")]
    InsufficientStock { product_id: String },
    #[error("unknown product(s): {}", .0.join(", "))]
    UnknownProducts(Vec<String>),
    #[error("an order that is {from} cannot be {to}")]
    InvalidTransition {
        from: &'static str,
        to: &'static str,
    },
    #[error("this Idempotency-Key was used with another request")]
    IdempotencyKeyReused,
    #[error("the read models have not reached position {0} yet")]
    ProjectionLagging(i64),
    /// Internal: a concurrent request with the same Idempotency-Key committed first.
    #[error("idempotency race")]
    IdempotencyRace,
    #[error(transparent)]
    Tenancy(#[from] TenancyError),
    #[error("database error")]
    Database(#[from] mongodb::error::Error),
    #[error("stored document is malformed")]
    Decode(#[from] mongodb::bson::de::Error),
    #[error("document cannot be encoded")]
    Encode(#[from] mongodb::bson::ser::Error),
    #[error(transparent)]
    Projection(#[from] ProjectionError),
}

impl DriverError for CommerceError {
    fn driver_error(&self) -> Option<&mongodb::error::Error> {
        match self {
            CommerceError::Database(e) => Some(e),
            _ => None,
        }
    }
}

pub type Result<T, E = CommerceError> = std::result::Result<T, E>;

pub(crate) fn is_duplicate_key(e: &mongodb::error::Error) -> bool {
    use mongodb::error::{ErrorKind, WriteFailure};
    match e.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(w)) => w.code == 11000,
        ErrorKind::Command(c) => c.code == 11000,
        _ => false,
    }
}
