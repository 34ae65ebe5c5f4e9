//! `Platform`: the MongoDB clients, the catalog, the tenant-database schema and the lifecycle,
//! built from the configuration in one place for `tenantry serve` and the operator commands.
//! A server also joins the fleet (`with_fleet`); a command lives for one operation and does not.

use std::sync::Arc;

use tenancy::catalog::{CacheSettings, CatalogCache, CatalogStore};
use tenancy::clusters::ClusterPools;
use tenancy::fleet::{Fleet, FleetSettings};
use tenancy::lifecycle::Provisioner;
use tenancy::migrations::Schema;
use tenancy::moves::Mover;

use crate::config::Config;

pub struct Platform {
    pub pools: ClusterPools,
    pub catalog: CatalogCache,
    pub schema: Schema,
    pub provisioner: Provisioner,
    pub mover: Mover,
    pub fleet: Option<Fleet>,
}

/// The schema of every tenant database: the CQRS library's collections, then the domain's.
pub fn schema() -> Schema {
    // Both components number their migrations 1, 2, ...: checked by a unit test.
    Schema::new(vec![&cqrs::schema::COMPONENT, &commerce::schema::COMPONENT])
        .unwrap_or_else(|e| unreachable!("the built-in schema is numbered correctly: {e}"))
}

/// After a move's switch: events the source had not projected yet are projected on the target
/// (touching the read models' pointer there reaches whichever instance projects the tenant,
/// through its cluster's change stream).
fn wake_projector(target: mongodb::Database) {
    tokio::spawn(async move {
        if let Err(e) = cqrs::read_models::announce_change(&target).await {
            tracing::warn!(error = %tenancy::ErrorChain(&e), "cannot wake the projector of a moved tenant");
        }
    });
}

impl Platform {
    /// Creates the clients (the driver connects on first use, so an unreachable cluster shows
    /// up as the first operation's error).
    pub async fn connect(config: &Config) -> tenancy::Result<Platform> {
        let pools = ClusterPools::connect(&config.clusters, config.pools).await?;
        let catalog_db = pools
            .default_cluster()?
            .client()
            .database(&config.catalog_db);
        let catalog = CatalogCache::new(
            CatalogStore::new(catalog_db),
            CacheSettings {
                ttl: config.cache_ttl,
                ..CacheSettings::default()
            },
        );
        let schema = schema();
        let provisioner = Provisioner::new(
            catalog.clone(),
            pools.clone(),
            config.db_prefix.clone(),
            schema.clone(),
            None,
        );
        let mover = Mover::new(catalog.clone(), pools.clone(), schema.clone(), config.moves)
            .on_switch(Arc::new(wake_projector));
        Ok(Platform {
            pools,
            catalog,
            schema,
            provisioner,
            mover,
            fleet: None,
        })
    }

    /// Joins the fleet: this instance's registry entry, leases and one-actor jobs.
    pub fn with_fleet(mut self, config: &Config) -> Platform {
        let settings = FleetSettings {
            lease: config.lease,
            leases: config.projection_leases,
            projects: config.projector,
            version: env!("CARGO_PKG_VERSION").to_string(),
        };
        let fleet = Fleet::new(self.catalog.store().clone(), self.pools.clone(), settings);
        self.provisioner = Provisioner::new(
            self.catalog.clone(),
            self.pools.clone(),
            config.db_prefix.clone(),
            self.schema.clone(),
            Some(fleet.clone()),
        );
        self.fleet = Some(fleet);
        self
    }

    pub fn store(&self) -> &CatalogStore {
        self.catalog.store()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_schema_is_numbered_from_one_per_component() {
        let schema = super::schema();
        assert!(schema.latest_version() >= 3);
    }
}
