//! Dedicated clients for tenants with `isolation: dedicated`: a small pool per tenant, kept in a
//! bounded cache (LRU beyond `dedicated_max_clients`, closed after `dedicated_idle` unused).
//! Creation is single-flight. Eviction only drops the cache's handle: a request that holds the
//! client keeps it open, and the driver closes the pool when the last handle goes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use moka::future::Cache;
use mongodb::Client;
use mongodb::options::ClientOptions;

use super::{PoolGauges, PoolSettings};
use crate::TenantKey;
use crate::error::{Result, TenancyError};

#[derive(Clone, Debug)]
pub struct DedicatedClients {
    pool_size: u32,
    /// By tenant and cluster: a tenant that moved gets a client of its new cluster.
    clients: Cache<(TenantKey, String), Client>,
    created: Arc<AtomicU64>,
    evicted: Arc<AtomicU64>,
    gauges: Arc<PoolGauges>,
}

impl DedicatedClients {
    pub fn new(settings: &PoolSettings) -> DedicatedClients {
        let evicted = Arc::new(AtomicU64::new(0));
        let on_evict = Arc::clone(&evicted);
        let clients = Cache::builder()
            .max_capacity(settings.dedicated_max_clients)
            .time_to_idle(settings.dedicated_idle)
            .eviction_listener(move |_id, _client, _cause| {
                on_evict.fetch_add(1, Ordering::Relaxed);
            })
            .build();
        DedicatedClients {
            pool_size: settings.dedicated_pool_size,
            clients,
            created: Arc::default(),
            evicted,
            gauges: Arc::default(),
        }
    }

    /// The tenant's own client, created on first use (once, however many requests race).
    pub async fn client(
        &self,
        key: &TenantKey,
        cluster: &str,
        cluster_options: &ClientOptions,
    ) -> Result<Client> {
        self.clients
            .try_get_with((key.clone(), cluster.to_string()), async {
                let mut options = cluster_options.clone();
                options.max_pool_size = Some(self.pool_size);
                options.min_pool_size = Some(0);
                options.app_name = Some(format!("tenantry-dedicated-{}", key.id));
                options.cmap_event_handler = Some(self.gauges.event_handler());
                self.created.fetch_add(1, Ordering::Relaxed);
                Client::with_options(options)
            })
            .await
            .map_err(|e| TenancyError::Database((*e).clone()))
    }

    /// Clients currently cached (after pending evictions have run).
    pub async fn cached(&self) -> u64 {
        self.clients.run_pending_tasks().await;
        self.clients.entry_count()
    }

    pub fn created(&self) -> u64 {
        self.created.load(Ordering::Relaxed)
    }

    pub fn evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }

    /// Connections open across all dedicated clients.
    pub fn gauges(&self) -> &PoolGauges {
        &self.gauges
    }
}
