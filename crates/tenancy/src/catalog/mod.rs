//! The tenant catalog: tenant records and custom-domain claims in the catalog database, and the
//! cache that keeps request resolution off the catalog's round trip.
//!
//! The catalog database holds tenant metadata only; no tenant data is ever stored here.

mod cache;
mod store;
mod watch;

pub use cache::{CacheSettings, CatalogCache};
pub(crate) use store::TENANTS;
pub use store::{CatalogStore, Claimed, TenantFilter, TenantPage};
pub use watch::spawn_invalidation_watch;
