//! Tenancy: everything that makes Tenantry multi-tenant, independent of HTTP.
//!
//! - `TenantId` parses and validates ids before they can become database names.
//! - `catalog` stores tenant records and caches them for request resolution.
//! - `resolution` is the policy deciding a request's tenant from its selectors and token.
//! - `clusters` owns the MongoDB clients: one shared pool per cluster, per-tenant budgets,
//!   dedicated pools for isolated tenants; `TenantDb` is the only door to tenant data.
//! - `provisioning` and `migrations` create, change and delete tenant databases.

pub mod catalog;
pub mod clusters;
mod context;
mod error;
pub mod migrations;
pub mod provisioning;
pub mod rate_limit;
pub mod resolution;
pub mod task;
mod tenant;
mod tenant_id;

pub use context::TenantContext;
pub use error::{ErrorChain, Result, TenancyError};
pub use tenant::{
    Isolation, Tenant, TenantLimits, TenantPatch, TenantSpec, TenantStatus, parse_domain,
};
pub use tenant_id::{DbPrefix, InvalidTenantId, RESERVED_TENANT_IDS, TenantId};
