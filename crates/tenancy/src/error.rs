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

/// Displays an error with its whole cause chain (for logs). A driver error shows its kind and
/// labels: the driver's own text carries the server's whole reply, as hex bytes.
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut next = Some(self.0);
        let mut separator = "";
        while let Some(error) = next {
            f.write_str(separator)?;
            separator = ": ";
            match error.downcast_ref::<mongodb::error::Error>() {
                Some(driver) => {
                    write!(f, "{}", driver.kind)?;
                    let mut labels: Vec<&String> = driver.labels().iter().collect();
                    if !labels.is_empty() {
                        labels.sort();
                        write!(f, " (labels: {labels:?})")?;
                    }
                }
                None => write!(f, "{error}")?,
            }
            next = error.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_shows_a_driver_errors_kind_not_its_whole_text() {
        let driver = mongodb::error::Error::from(std::io::Error::other("connection reset"));
        let error = TenancyError::Database(driver);
        let text = ErrorChain(&error).to_string();
        assert!(text.starts_with("database error: "), "{text}");
        assert!(text.contains("connection reset"), "{text}");
        assert!(!text.contains("Kind:"), "{text}");
        assert!(!text.contains("server response"), "{text}");
    }
}
