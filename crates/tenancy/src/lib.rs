//! Tenancy: everything that makes Tenantry multi-tenant, independent of HTTP.
//!
//! - `TenantId` parses and validates ids before they can become database names; `Incarnation`
//!   tells one creation of an id from the next, and `TenantKey` is the pair.
//! - `catalog` stores tenant records and caches them for request resolution.
//! - `resolution` is the policy deciding a request's tenant from its selectors and token.
//! - `clusters` owns the MongoDB clients: one shared pool per cluster, per-tenant budgets,
//!   dedicated pools for isolated tenants; `TenantDb` is the only door to tenant data, and
//!   `transaction` runs units of work through it.
//! - `fleet`: instances sharing one catalog, leases with fencing tokens, dead-instance clean-up.
//! - `lifecycle` and `migrations` create, change and delete tenant databases; `meta` holds the
//!   tenant database's identity, ledger and fences; `moves` moves a tenant's database to
//!   another cluster while it serves.

pub mod catalog;
pub mod clusters;
mod context;
mod error;
pub mod failpoint;
pub mod fleet;
mod incarnation;
pub mod lifecycle;
pub mod meta;
pub mod migrations;
pub mod moves;
pub mod rate_limit;
pub mod resolution;
pub mod task;
mod tenant;
mod tenant_id;
pub mod time;
pub mod transaction;

pub use context::TenantContext;
pub use error::{ErrorChain, Result, TenancyError, is_duplicate_key};
pub use incarnation::{INCARNATION_LEN, Incarnation, TenantKey};
pub use tenant::{
    Isolation, Plan, Tenant, TenantAuth, TenantLimits, TenantName, TenantPatch, TenantSpec,
    TenantStatus, parse_domain,
};
pub use tenant_id::{DbPrefix, InvalidTenantId, RESERVED_TENANT_IDS, TenantId};
