//! Integration tests over real HTTP: a real server per test, the real MongoDB driver against the
//! test database (embedded SecantusDB, or MONGODB_URI), real JWT signatures. Every test uses its
//! own catalog database and tenants, so tests run in parallel.

mod admin_auth;
mod browser;
mod cli;
mod console;
mod contract;
mod conventions;
mod crashes;
mod customers;
mod fleet;
mod group_commit;
mod hostile;
mod idempotency;
mod identity;
mod incarnations;
mod isolation;
mod lifecycle;
mod moves;
mod oidc_provider;
mod operations;
mod orders;
mod pooling;
mod process;
mod products;
mod projections;
mod provisioning;
mod readiness;
mod rebuilds;
mod reports;
mod resolution;
mod shutdown;
mod support;
mod tenant_auth;
mod traces;
mod transfer;
mod upgrades;
mod workload;
