//! Errors of the tenancy layer. Each says what went wrong in domain terms; driver errors are kept
//! as sources for the log and never shown to API clients.

use crate::TenantId;

#[derive(Debug, thiserror::Error)]
pub enum TenancyError {
    #[error("tenant {0} not found")]
    NotFound(TenantId),
    #[error("tenant {0} exists with other settings")]
    Exists(TenantId),
    #[error("domain {0} is registered to another tenant")]
    DomainTaken(String),
    #[error("issuer {0} is the identity provider of another tenant")]
    IssuerTaken(String),
    #[error("unknown cluster '{0}'")]
    UnknownCluster(String),
    #[error("tenant {0} is busy: its concurrency budget is exhausted")]
    BudgetExhausted(TenantId),
    #[error("cluster '{0}' is down")]
    ClusterDown(String),
    #[error("tenant {id} is {status}")]
    InvalidState { id: TenantId, status: &'static str },
    #[error("migration {component} {version} ({name}) failed")]
    Migration {
        component: &'static str,
        version: u32,
        name: &'static str,
        #[source]
        source: mongodb::error::Error,
    },
    #[error(transparent)]
    Abandoned(#[from] crate::transaction::Abandoned),
    #[error("tenant {0} is gone: its incarnation was deleted")]
    Fenced(TenantId),
    #[error("database error")]
    Database(#[from] mongodb::error::Error),
    #[error("catalog record is malformed")]
    Decode(#[from] mongodb::bson::de::Error),
    #[error("catalog record cannot be encoded")]
    Encode(#[from] mongodb::bson::ser::Error),
}

pub type Result<T, E = TenancyError> = std::result::Result<T, E>;

impl crate::transaction::DriverError for TenancyError {
    fn driver_error(&self) -> Option<&mongodb::error::Error> {
        match self {
            TenancyError::Database(e) | TenancyError::Migration { source: e, .. } => Some(e),
            _ => None,
        }
    }
}

/// MongoDB's duplicate-key error code.
pub fn is_duplicate_key(err: &mongodb::error::Error) -> bool {
    use mongodb::error::{ErrorKind, WriteFailure};
    match err.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(e)) => e.code == 11000,
        ErrorKind::Command(e) => e.code == 11000,
        ErrorKind::InsertMany(e) => e
            .write_errors
            .as_ref()
            .is_some_and(|errs| errs.iter().any(|w| w.code == 11000)),
        _ => false,
    }
}

/// Displays an error with its whole cause chain (for logs).
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}
