//! `CliError`: why an operator command failed, how that is printed, and the exit status.
//!
//! Exit status 2 means the request itself is wrong (input, configuration, a refused command),
//! like clap's own usage errors; 1 means it was valid but did not succeed (not found, conflict,
//! database). Every error carries a stable code, named like the admin API's problem codes.

use std::fmt::Display;
use std::io::Write;
use std::process::ExitCode;
use tenantry_api::http::ProblemCode;

use cqrs::projector::ProjectionError;
use tenancy::TenancyError;

/// Whether the request was wrong (exit 2) or failed (exit 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Invalid,
    Failed,
}

/// The code of an operator command's error: a problem code of the API's catalogue (the same
/// failure has the same name everywhere), or one only an operator command can meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CliCode {
    Problem(ProblemCode),
    /// The configuration cannot be used.
    InvalidConfiguration,
    /// A destructive command without its confirmation.
    ConfirmationRequired,
    /// A tenant's migration failed.
    MigrationFailed,
    /// The database failed.
    DatabaseError,
    /// The output could not be written.
    Io,
}

impl CliCode {
    pub const fn as_str(self) -> &'static str {
        match self {
            CliCode::Problem(code) => code.as_str(),
            CliCode::InvalidConfiguration => "invalid_configuration",
            CliCode::ConfirmationRequired => "confirmation_required",
            CliCode::MigrationFailed => "migration_failed",
            CliCode::DatabaseError => "database_error",
            CliCode::Io => "io",
        }
    }
}

impl From<ProblemCode> for CliCode {
    fn from(code: ProblemCode) -> CliCode {
        CliCode::Problem(code)
    }
}

#[derive(Debug)]
pub struct CliError {
    kind: Kind,
    code: CliCode,
    error: anyhow::Error,
}

impl CliError {
    /// Invalid input or a refused command: exit 2.
    pub fn invalid(code: impl Into<CliCode>, message: impl Display) -> CliError {
        CliError {
            kind: Kind::Invalid,
            code: code.into(),
            error: anyhow::anyhow!("{message}"),
        }
    }

    /// A valid request that did not succeed: exit 1.
    pub fn failed(code: impl Into<CliCode>, error: impl Into<anyhow::Error>) -> CliError {
        CliError {
            kind: Kind::Failed,
            code: code.into(),
            error: error.into(),
        }
    }

    /// Adds what was being done to the message; the kind and code stay.
    pub fn context(self, context: impl Display + Send + Sync + 'static) -> CliError {
        CliError {
            error: self.error.context(context),
            ..self
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        match self.kind {
            Kind::Invalid => ExitCode::from(2),
            Kind::Failed => ExitCode::FAILURE,
        }
    }

    /// Prints the error on stderr: `tenantry: <message: causes>`, or with `--json` one object
    /// `{"error": code, "message": ...}`.
    pub fn report(&self, json: bool) {
        let message = format!("{:#}", self.error);
        let line = if json {
            serde_json::json!({"error": self.code.as_str(), "message": message}).to_string()
        } else {
            format!("tenantry: {message}")
        };
        // Nowhere left to report a failing stderr to.
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }
}

impl From<TenancyError> for CliError {
    fn from(error: TenancyError) -> CliError {
        let (kind, code): (Kind, CliCode) = match &error {
            TenancyError::NotFound(_) => (Kind::Failed, ProblemCode::TenantNotFound.into()),
            TenancyError::Exists(_) => (Kind::Failed, ProblemCode::TenantExists.into()),
            TenancyError::DomainTaken(_) => (Kind::Failed, ProblemCode::DomainTaken.into()),
            TenancyError::IssuerTaken(_) => (Kind::Failed, ProblemCode::IssuerTaken.into()),
            TenancyError::UnknownCluster(_) => {
                (Kind::Invalid, ProblemCode::ValidationFailed.into())
            }
            TenancyError::InvalidState { .. } => {
                (Kind::Failed, ProblemCode::InvalidTenantState.into())
            }
            TenancyError::BudgetExhausted(_)
            | TenancyError::ClusterDown(_)
            | TenancyError::Abandoned(_) => (Kind::Failed, ProblemCode::Unavailable.into()),
            TenancyError::Fenced(_) => (Kind::Failed, ProblemCode::TenantUnavailable.into()),
            TenancyError::Migration { .. } => (Kind::Failed, CliCode::MigrationFailed),
            TenancyError::Database(_) | TenancyError::Decode(_) | TenancyError::Encode(_) => {
                (Kind::Failed, CliCode::DatabaseError)
            }
        };
        CliError {
            kind,
            code,
            error: error.into(),
        }
    }
}

impl From<ProjectionError> for CliError {
    fn from(error: ProjectionError) -> CliError {
        let code: CliCode = match &error {
            ProjectionError::RebuildInProgress => ProblemCode::RebuildInProgress.into(),
            ProjectionError::Fenced(_) => ProblemCode::TenantUnavailable.into(),
            ProjectionError::Abandoned(_) => ProblemCode::Unavailable.into(),
            ProjectionError::Database(_) => CliCode::DatabaseError,
            ProjectionError::Poison(_)
            | ProjectionError::Stale
            | ProjectionError::Decode(_)
            | ProjectionError::Encode(_) => ProblemCode::Internal.into(),
        };
        CliError::failed(code, error)
    }
}

#[cfg(test)]
mod tests {
    use tenancy::TenantId;

    use super::*;

    #[test]
    fn tenancy_errors_map_to_codes_and_exit_statuses() {
        let id = TenantId::parse("acme").unwrap();
        let cases = [
            (
                TenancyError::NotFound(id.clone()),
                Kind::Failed,
                "tenant_not_found",
            ),
            (
                TenancyError::Exists(id.clone()),
                Kind::Failed,
                "tenant_exists",
            ),
            (
                TenancyError::DomainTaken("a.example".into()),
                Kind::Failed,
                "domain_taken",
            ),
            (
                TenancyError::UnknownCluster("mars".into()),
                Kind::Invalid,
                "validation_failed",
            ),
        ];
        for (error, kind, code) in cases {
            let e = CliError::from(error);
            assert_eq!((e.kind, e.code.as_str()), (kind, code));
        }
        let busy = CliError::from(ProjectionError::RebuildInProgress);
        assert_eq!(
            (busy.kind, busy.code.as_str()),
            (Kind::Failed, "rebuild_in_progress")
        );
        let refused = CliError::invalid(CliCode::ConfirmationRequired, "no").context("deleting");
        assert_eq!(refused.kind, Kind::Invalid);
        assert_eq!(format!("{:#}", refused.error), "deleting: no");
    }
}
