//! `CommerceError`: what can go wrong in the sample domain, in its own terms.

use cqrs::command::CommandError;
use cqrs::projector::ProjectionError;
use cqrs::query::QueryError;
use tenancy::TenancyError;
use tenancy::transaction::{Abandoned, DriverError};

#[derive(Debug, thiserror::Error)]
pub enum CommerceError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("sku '{0}' is taken")]
    SkuTaken(String),
    #[error("not enough stock for product {product_id}")]
    InsufficientStock { product_id: String },
    #[error("unknown product(s): {}", .0.join(", "))]
    UnknownProducts(Vec<String>),
    #[error("an order that is {from} cannot be {to}")]
    InvalidTransition {
        from: &'static str,
        to: &'static str,
    },
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error(transparent)]
    Query(#[from] QueryError),
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

impl From<Abandoned> for CommerceError {
    fn from(e: Abandoned) -> Self {
        CommerceError::Command(CommandError::Abandoned(e))
    }
}

impl tenancy::moves::Relocatable for CommerceError {
    fn stopped(&self) -> Option<tenancy::moves::Stopped> {
        match self {
            CommerceError::Command(e) => e.stopped(),
            CommerceError::Query(e) => e.stopped(),
            _ => None,
        }
    }
}

impl DriverError for CommerceError {
    fn driver_error(&self) -> Option<&mongodb::error::Error> {
        match self {
            CommerceError::Database(e) => Some(e),
            CommerceError::Command(e) => e.driver_error(),
            _ => None,
        }
    }
}

pub type Result<T, E = CommerceError> = std::result::Result<T, E>;
