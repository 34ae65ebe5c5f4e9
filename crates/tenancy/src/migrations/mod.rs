//! Per-tenant schema migrations (ARCHITECTURE.md decision 6).
//!
//! Collections, validators and indexes of a tenant database are declared in code as an ordered
//! list (`catalog_of_migrations`). Each applied version is recorded in the tenant's own
//! `_migrations` ledger, so applying is idempotent and resumable: a crash between a migration
//! and its ledger entry re-runs that migration, which is written to be safe to re-run.

mod ledger;
mod list;
mod runner;

pub use ledger::apply_pending;
pub use list::{MIGRATIONS, Migration, latest_version};
pub use runner::{MigrationReport, TenantMigrationOutcome, migrate_all};
