//! Connection management: one pool per cluster, a budget per tenant (README, "Architecture").
//!
//! One shared `mongodb::Client` per cluster; `client.database(name)` costs no I/O, so every tenant
//! on a cluster shares its pool and adding a tenant adds no connection. "Per-tenant pooling" is a
//! concurrency *budget* on that shared pool (`budget`), plus, for tenants with
//! `isolation: dedicated`, a small pool of their own from a bounded cache (`dedicated`).
//! The only way to reach tenant data is `ClusterPools::tenant_db(&TenantContext)`.

mod budget;
mod command_spans;
mod dedicated;
mod gauges;
mod health;
mod tenant_db;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use mongodb::Client;
use mongodb::options::ClientOptions;

pub use budget::{RejectionObserver, TenantBudgets};
pub use dedicated::DedicatedClients;
pub use gauges::{PoolGauges, PoolSnapshot};
pub use health::ClusterHealth;
pub use tenant_db::TenantDb;

use crate::error::{Result, TenancyError};
use crate::fleet::SessionLog;
use crate::{Isolation, Tenant, TenantContext};

/// How long an operation waits to find a server when the URI does not say
/// (`serverSelectionTimeoutMS`); the driver's own default is 30 s, as long as a request may run.
const SERVER_SELECTION_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the driver checks each server (its default is 10 s): a cluster that goes down is
/// noticed, and one that comes back is used again, within this.
const HEARTBEAT: Duration = Duration::from_secs(2);
/// How long connecting (and a monitoring check) may take when the URI does not say
/// (`connectTimeoutMS`; the driver's default is 10 s): a stalled server's heartbeat fails
/// within this, and its cluster is then known to be down.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The name of the cluster configured by `TENANTRY_MONGODB_URI` (it also holds the catalog).
pub const DEFAULT_CLUSTER: &str = "default";

/// Sizing of pools and budgets.
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    /// Connections per server of each cluster's shared client.
    pub max_pool_size: u32,
    /// Default number of concurrent database operations per tenant.
    pub tenant_budget: u32,
    /// How long a request waits for its tenant's budget before 503.
    pub budget_wait: Duration,
    /// Connections per server of a dedicated tenant's client.
    pub dedicated_pool_size: u32,
    /// How many dedicated clients are kept at most (LRU beyond that).
    pub dedicated_max_clients: u64,
    /// A dedicated client unused this long is closed.
    pub dedicated_idle: Duration,
    /// One `tracing` span per database command, a child of the span it was issued in (for
    /// trace export; see `command_spans`).
    pub trace_commands: bool,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_pool_size: 64,
            tenant_budget: 16,
            budget_wait: Duration::from_millis(500),
            dedicated_pool_size: 4,
            dedicated_max_clients: 64,
            dedicated_idle: Duration::from_secs(300),
            trace_commands: false,
        }
    }
}

/// A configured cluster: a name and a connection string (never logged: it may hold credentials).
#[derive(Clone)]
pub struct ClusterConfig {
    pub name: String,
    pub uri: String,
}

impl std::fmt::Debug for ClusterConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterConfig")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A cluster's shared client and the gauges of its pool.
#[derive(Clone, Debug)]
pub struct Cluster {
    pub name: String,
    client: Client,
    options: ClientOptions,
    gauges: Arc<PoolGauges>,
    health: Arc<ClusterHealth>,
}

impl Cluster {
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn gauges(&self) -> &PoolGauges {
        &self.gauges
    }

    pub fn health(&self) -> &ClusterHealth {
        &self.health
    }
}

#[derive(Clone, Debug)]
pub struct ClusterPools {
    clusters: Arc<BTreeMap<String, Cluster>>,
    budgets: TenantBudgets,
    dedicated: DedicatedClients,
    sessions: SessionLog,
}

impl ClusterPools {
    /// Parses every cluster's URI and creates its client (no I/O yet: the driver connects lazily).
    pub async fn connect(
        configs: &[ClusterConfig],
        settings: PoolSettings,
    ) -> Result<ClusterPools> {
        let mut clusters = BTreeMap::new();
        for config in configs {
            let mut options = ClientOptions::parse(&config.uri).await?;
            options.app_name = Some("tenantry".to_string());
            options.server_selection_timeout = options
                .server_selection_timeout
                .or(Some(SERVER_SELECTION_TIMEOUT));
            options.heartbeat_freq = options.heartbeat_freq.or(Some(HEARTBEAT));
            options.connect_timeout = options.connect_timeout.or(Some(CONNECT_TIMEOUT));
            if settings.trace_commands {
                // On the options dedicated clients copy, so their commands are traced too.
                options.command_event_handler = Some(command_spans::handler());
            }
            let gauges = Arc::new(PoolGauges::default());
            let health = Arc::new(ClusterHealth::default());
            let mut shared = options.clone();
            shared.max_pool_size = Some(settings.max_pool_size);
            shared.cmap_event_handler = Some(gauges.event_handler());
            shared.sdam_event_handler = Some(health.event_handler());
            let client = Client::with_options(shared)?;
            let cluster = Cluster {
                name: config.name.clone(),
                client,
                options,
                gauges,
                health,
            };
            clusters.insert(config.name.clone(), cluster);
        }
        Ok(ClusterPools {
            clusters: Arc::new(clusters),
            budgets: TenantBudgets::new(settings.tenant_budget, settings.budget_wait),
            dedicated: DedicatedClients::new(&settings),
            sessions: SessionLog::default(),
        })
    }

    /// The lsids of this process's transactions (see `fleet::SessionLog`).
    pub fn sessions(&self) -> &SessionLog {
        &self.sessions
    }

    pub fn cluster(&self, name: &str) -> Result<&Cluster> {
        self.clusters
            .get(name)
            .ok_or_else(|| TenancyError::UnknownCluster(name.to_string()))
    }

    pub fn default_cluster(&self) -> Result<&Cluster> {
        self.cluster(DEFAULT_CLUSTER)
    }

    pub fn clusters(&self) -> impl Iterator<Item = &Cluster> {
        self.clusters.values()
    }

    pub fn budgets(&self) -> &TenantBudgets {
        &self.budgets
    }

    pub fn dedicated(&self) -> &DedicatedClients {
        &self.dedicated
    }

    /// The request path's handle on a tenant's database: waits (briefly) for a slot of the
    /// tenant's budget, and routes dedicated tenants to their own client.
    /// A cluster known to be down fails here at once (503), not after server selection.
    pub async fn tenant_db(&self, ctx: &TenantContext) -> Result<TenantDb> {
        let tenant = ctx.tenant();
        let cluster = self.cluster(&tenant.cluster)?;
        if cluster.health.is_down() {
            return Err(TenancyError::ClusterDown(cluster.name.clone()));
        }
        let permit = self.budgets.acquire(tenant).await?;
        let client = self.client_for(cluster, tenant).await?;
        Ok(TenantDb::new(
            client.database(&tenant.database),
            &tenant.cluster,
            tenant.key(),
            Some(permit),
            self.sessions.clone(),
        ))
    }

    /// A handle for platform maintenance (provisioning, migrations, deletion): no budget.
    pub async fn maintenance_db(&self, tenant: &Tenant) -> Result<TenantDb> {
        let client = self.cluster(&tenant.cluster)?.client.clone();
        Ok(TenantDb::new(
            client.database(&tenant.database),
            &tenant.cluster,
            tenant.key(),
            None,
            self.sessions.clone(),
        ))
    }

    async fn client_for(&self, cluster: &Cluster, tenant: &Tenant) -> Result<Client> {
        match tenant.isolation {
            Isolation::Shared => Ok(cluster.client.clone()),
            Isolation::Dedicated => {
                self.dedicated
                    .client(&tenant.key(), &cluster.name, &cluster.options)
                    .await
            }
        }
    }

    /// Connections open across every shared client (dedicated clients not included).
    pub fn shared_connections(&self) -> i64 {
        self.clusters
            .values()
            .map(|c| c.gauges.snapshot().open)
            .sum()
    }
}
