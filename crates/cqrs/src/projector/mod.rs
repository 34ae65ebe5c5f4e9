//! The projector: keeps every tenant's read models up to date with its outbox.
//!
//! One worker per cluster (not per tenant). Each worker learns which tenants have new events from
//! a change stream on its cluster's outbox collections (and from `nudge`, called by commands
//! right after they commit), keeps them in a "dirty" set, and catches them up a few at a time.
//! One tenant's failure (poison event, error) is confined to that tenant: poison events are
//! dead-lettered, errors are retried with backoff, and the other tenants keep flowing.
//! On start, and whenever the change stream is reopened, every tenant of the cluster is swept once.

mod catch_up;
mod checkpoints;
mod projection;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use mongodb::bson::{Document, doc};
use tenancy::catalog::CatalogCache;
use tenancy::clusters::{ClusterPools, TenantDb};
use tenancy::task::AbortOnDrop;
use tenancy::{DbPrefix, Tenant, TenantId, TenantStatus};
use tokio::sync::{Notify, OwnedMutexGuard};

pub use catch_up::CatchUp;
pub use checkpoints::{ProjectionStatus, applied_position, status, wait_for_position};
pub use projection::{Projection, ProjectionError};

use crate::outbox::OUTBOX;

/// Tenants caught up at once by one cluster's worker.
const PARALLEL_TENANTS: usize = 8;

#[derive(Clone)]
pub struct Projector {
    inner: Arc<Inner>,
}

struct Inner {
    pools: ClusterPools,
    catalog: CatalogCache,
    prefix: DbPrefix,
    projections: Vec<Arc<dyn Projection>>,
    dirty: HashMap<String, ClusterQueue>,
    /// One catch-up or rebuild per tenant at a time in this process.
    locks: moka::sync::Cache<TenantId, Arc<tokio::sync::Mutex<()>>>,
    applied: AtomicU64,
    dead_lettered: AtomicU64,
    last_delay_ms: AtomicU64,
}

#[derive(Default)]
struct ClusterQueue {
    tenants: Mutex<HashSet<TenantId>>,
    wake: Notify,
}

/// Counters for metrics.
#[derive(Debug, Clone, Copy)]
pub struct ProjectorCounters {
    pub events_applied: u64,
    pub dead_letters: u64,
    /// From an event's write to its projection, for the last event applied.
    pub last_delay: Duration,
    /// Tenants with events waiting to be projected.
    pub pending_tenants: usize,
}

impl Projector {
    pub fn new(
        pools: ClusterPools,
        catalog: CatalogCache,
        prefix: DbPrefix,
        projections: Vec<Arc<dyn Projection>>,
    ) -> Projector {
        let dirty = pools
            .clusters()
            .map(|c| (c.name.clone(), ClusterQueue::default()))
            .collect();
        let locks = moka::sync::Cache::builder()
            .time_to_idle(Duration::from_secs(600))
            .build();
        Projector {
            inner: Arc::new(Inner {
                pools,
                catalog,
                prefix,
                projections,
                dirty,
                locks,
                applied: AtomicU64::new(0),
                dead_lettered: AtomicU64::new(0),
                last_delay_ms: AtomicU64::new(0),
            }),
        }
    }

    /// The names of the projections, for `wait_for_position` and `status`.
    pub fn projection_names(&self) -> Vec<&'static str> {
        self.inner.projections.iter().map(|p| p.name()).collect()
    }

    /// Starts one watcher and one worker per cluster; they stop when the handles drop.
    pub fn spawn(&self) -> Vec<AbortOnDrop> {
        let mut tasks = Vec::new();
        for cluster in self.inner.dirty.keys() {
            let (watcher, worker) = (self.clone(), self.clone());
            let (a, b) = (cluster.clone(), cluster.clone());
            tasks.push(AbortOnDrop::spawn(async move { watcher.watch(&a).await }));
            tasks.push(AbortOnDrop::spawn(async move { worker.work(&b).await }));
        }
        tasks
    }

    /// Marks a tenant as having new events (commands call this after committing).
    pub fn nudge(&self, tenant: &Tenant) {
        if let Some(queue) = self.inner.dirty.get(&tenant.cluster) {
            if let Ok(mut tenants) = queue.tenants.lock() {
                tenants.insert(tenant.id.clone());
            }
            queue.wake.notify_one();
        }
    }

    pub fn counters(&self) -> ProjectorCounters {
        ProjectorCounters {
            events_applied: self.inner.applied.load(Ordering::Relaxed),
            dead_letters: self.inner.dead_lettered.load(Ordering::Relaxed),
            last_delay: Duration::from_millis(self.inner.last_delay_ms.load(Ordering::Relaxed)),
            pending_tenants: self
                .inner
                .dirty
                .values()
                .map(|q| q.tenants.lock().map_or(0, |t| t.len()))
                .sum(),
        }
    }

    /// Brings one tenant's read models up to date now.
    pub async fn catch_up(&self, tenant: &Tenant) -> Result<CatchUp, ProjectionError> {
        let (_guard, db) = self.exclusive(tenant).await?;
        self.catch_up_locked(&db).await
    }

    /// Empties the tenant's read models and checkpoints and replays its whole outbox.
    pub async fn rebuild(&self, tenant: &Tenant) -> Result<CatchUp, ProjectionError> {
        let (_guard, db) = self.exclusive(tenant).await?;
        let database = db.database();
        for projection in &self.inner.projections {
            for name in projection.collections() {
                database
                    .collection::<Document>(name)
                    .delete_many(doc! {})
                    .await?;
            }
        }
        database
            .collection::<Document>(checkpoints::CHECKPOINTS)
            .delete_many(doc! {})
            .await?;
        database
            .collection::<Document>(checkpoints::DEAD_LETTERS)
            .delete_many(doc! {})
            .await?;
        tracing::info!(tenant = %tenant.id, "read models cleared for rebuild");
        self.catch_up_locked(&db).await
    }

    /// The tenant's database, with this process's lock on its projections held.
    async fn exclusive(
        &self,
        tenant: &Tenant,
    ) -> Result<(OwnedMutexGuard<()>, TenantDb), ProjectionError> {
        let lock = self
            .inner
            .locks
            .get_with_by_ref(&tenant.id, Default::default);
        let guard = lock.lock_owned().await;
        let db = self
            .inner
            .pools
            .maintenance_db(tenant)
            .await
            .map_err(tenancy_to_projection)?;
        Ok((guard, db))
    }

    async fn catch_up_locked(&self, db: &TenantDb) -> Result<CatchUp, ProjectionError> {
        let done = catch_up::catch_up(db.client(), db.database(), &self.inner.projections).await?;
        self.inner.applied.fetch_add(done.events, Ordering::Relaxed);
        self.inner
            .dead_lettered
            .fetch_add(done.dead_letters, Ordering::Relaxed);
        if let Some(at) = done.last_event_at {
            let delay = mongodb::bson::DateTime::now().timestamp_millis() - at.timestamp_millis();
            self.inner
                .last_delay_ms
                .store(delay.max(0) as u64, Ordering::Relaxed);
        }
        Ok(done)
    }

    async fn work(&self, cluster: &str) {
        let Some(queue) = self.inner.dirty.get(cluster) else {
            return;
        };
        loop {
            let batch: Vec<TenantId> = match queue.tenants.lock() {
                Ok(mut tenants) => tenants.drain().collect(),
                Err(_) => return,
            };
            if batch.is_empty() {
                // Wake on a nudge, or after a while to retry tenants that failed.
                let _ = tokio::time::timeout(Duration::from_secs(1), queue.wake.notified()).await;
                continue;
            }
            let failed: Vec<TenantId> = futures::stream::iter(batch)
                .map(|id| async move { self.catch_up_by_id(&id).await.err().map(|()| id) })
                .buffer_unordered(PARALLEL_TENANTS)
                .filter_map(|failed| async move { failed })
                .collect()
                .await;
            if !failed.is_empty() {
                tokio::time::sleep(Duration::from_millis(200)).await;
                if let Ok(mut tenants) = queue.tenants.lock() {
                    tenants.extend(failed);
                }
            }
        }
    }

    async fn catch_up_by_id(&self, id: &TenantId) -> Result<(), ()> {
        let tenant = match self.inner.catalog.tenant(id).await {
            Ok(Some(t)) if matches!(t.status, TenantStatus::Active | TenantStatus::Suspended) => t,
            Ok(_) => return Ok(()),
            Err(e) => {
                tracing::warn!(tenant = %id, error = %e, "projector cannot read the catalog");
                return Err(());
            }
        };
        match self.catch_up(&tenant).await {
            Ok(_) => Ok(()),
            Err(e) => {
                tracing::warn!(tenant = %id, error = %e, "projection catch-up failed; retrying");
                Err(())
            }
        }
    }

    /// Feeds the cluster's dirty set from a change stream on every tenant's outbox.
    async fn watch(&self, cluster: &str) {
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.watch_once(cluster).await {
                Ok(()) => backoff = Duration::from_millis(100),
                Err(e) => {
                    tracing::warn!(cluster, error = %e, "outbox change stream failed; reopening");
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
            tokio::time::sleep(backoff).await;
        }
    }

    async fn watch_once(&self, cluster: &str) -> Result<(), tenancy::TenancyError> {
        let client = self.inner.pools.cluster(cluster)?.client().clone();
        let pipeline = [doc! {"$match": {"ns.coll": OUTBOX, "operationType": "insert"}}];
        let mut stream = client.watch().pipeline(pipeline).await?;
        // Anything written before the stream opened: sweep every tenant once.
        self.sweep(cluster).await?;
        while let Some(event) = stream.next().await {
            let event = event?;
            let db = event.ns.as_ref().map(|ns| ns.db.as_str()).unwrap_or("");
            let id = db
                .strip_prefix(self.inner.prefix.as_str())
                .and_then(|id| TenantId::parse(id).ok());
            if let (Some(id), Some(queue)) = (id, self.inner.dirty.get(cluster)) {
                if let Ok(mut tenants) = queue.tenants.lock() {
                    tenants.insert(id);
                }
                queue.wake.notify_one();
            }
        }
        Ok(())
    }

    async fn sweep(&self, cluster: &str) -> Result<(), tenancy::TenancyError> {
        let statuses = [TenantStatus::Active, TenantStatus::Suspended];
        let ids = self
            .inner
            .catalog
            .store()
            .ids_on_cluster(cluster, &statuses)
            .await?;
        if let Some(queue) = self.inner.dirty.get(cluster) {
            if let Ok(mut tenants) = queue.tenants.lock() {
                tenants.extend(ids);
            }
            queue.wake.notify_one();
        }
        Ok(())
    }
}

fn tenancy_to_projection(e: tenancy::TenancyError) -> ProjectionError {
    match e {
        tenancy::TenancyError::Database(d) => ProjectionError::Database(d),
        other => ProjectionError::Poison(other.to_string()),
    }
}
