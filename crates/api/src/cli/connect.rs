//! `Platform`: the cluster clients, catalog and provisioner an operator command works with,
//! built from the configuration the way the server builds them. No change-stream watch: a
//! command lives for one operation and reads the catalog itself; running servers see its
//! changes through their own watch.

use tenancy::catalog::{CacheSettings, CatalogCache, CatalogStore};
use tenancy::clusters::ClusterPools;
use tenancy::provisioning::Provisioner;
use tenantry_api::Config;

use super::CliError;

pub struct Platform {
    pub pools: ClusterPools,
    pub catalog: CatalogCache,
    pub provisioner: Provisioner,
}

impl Platform {
    /// Creates the clients (the driver connects on first use, so an unreachable cluster shows
    /// up as the first operation's error).
    pub async fn connect(config: &Config) -> Result<Platform, CliError> {
        let pools = ClusterPools::connect(&config.clusters, config.pools)
            .await
            .map_err(|e| {
                CliError::invalid(
                    "invalid_configuration",
                    format!(
                        "TENANTRY_MONGODB_URI / TENANTRY_CLUSTERS: cannot configure the MongoDB clients: {e}"
                    ),
                )
            })?;
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
        let provisioner =
            Provisioner::new(catalog.clone(), pools.clone(), config.db_prefix.clone());
        Ok(Platform {
            pools,
            catalog,
            provisioner,
        })
    }

    pub fn store(&self) -> &CatalogStore {
        self.catalog.store()
    }
}
