//! Per-tenant schema migrations.
//!
//! Collections, validators and indexes of a tenant database are declared in code, as ordered
//! migrations of each component that owns them (`Schema`, built by the application from the
//! crates it uses). Each applied step is recorded in the tenant's ledger (`_meta` documents
//! `migration:<component>:<version>`), so applying is idempotent and resumable.

mod declare;
mod ledger;
mod runner;
mod schema;

pub use declare::{CollectionSpec, IndexSpec, ensure, ensure_all};
pub use ledger::{applied_versions, apply_pending};
pub use runner::{MigrationReport, TenantMigrationOutcome, migrate_all};
pub use schema::{BadNumbering, Component, Migration, Schema};
