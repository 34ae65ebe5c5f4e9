//! Tenant lifecycle: create (provision), change settings, suspend/resume, delete.
//!
//! - `create`: a new incarnation is recorded as `provisioning`, its domains claimed, its
//!   database created with its identity and migrated, then it is `active`. Every step is
//!   idempotent, so repeating the same request completes what a crash interrupted.
//! - `settings`: name, plan, limits, domains; suspend and resume.
//! - `deletion`: `deleting` at once (requests see 503), then, under a job lease, the fences
//!   flipped, the database dropped and checked gone, and only then the record removed.
//!   Interrupted deletions are finished by any instance.

mod create;
mod deletion;
mod settings;

use crate::DbPrefix;
use crate::catalog::CatalogCache;
use crate::clusters::ClusterPools;
use crate::fleet::Fleet;
use crate::migrations::Schema;

pub use create::Created;
pub use deletion::spawn_deletion_sweeper;

#[derive(Clone)]
pub struct Provisioner {
    catalog: CatalogCache,
    pools: ClusterPools,
    prefix: DbPrefix,
    schema: Schema,
    /// One instance finishes a given deletion at a time (job leases); without a fleet (an
    /// operator command) the steps run directly: each is idempotent.
    fleet: Option<Fleet>,
}

impl std::fmt::Debug for Provisioner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provisioner")
            .field("prefix", &self.prefix)
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl Provisioner {
    pub fn new(
        catalog: CatalogCache,
        pools: ClusterPools,
        prefix: DbPrefix,
        schema: Schema,
        fleet: Option<Fleet>,
    ) -> Provisioner {
        Provisioner {
            catalog,
            pools,
            prefix,
            schema,
            fleet,
        }
    }

    pub fn catalog(&self) -> &CatalogCache {
        &self.catalog
    }

    pub fn pools(&self) -> &ClusterPools {
        &self.pools
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    pub fn prefix(&self) -> &DbPrefix {
        &self.prefix
    }
}
