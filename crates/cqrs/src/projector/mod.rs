//! The projector: keeps every tenant's read models up to date with its outbox, exactly once,
//! however many instances run.
//!
//! - Work is shared by leases (`tenancy::fleet`): an instance projects only the tenants of the
//!   partitions it holds, and writes the lease's fencing token into the tenant database in
//!   every batch's transaction (`batch`), so a holder that lost its lease cannot write.
//! - Within that, every batch is exactly-once by itself (checkpoints read and compare-and-set in
//!   the batch's transaction), so even N uncoordinated projectors (leases off) are correct.
//! - One worker per cluster (not per tenant). It learns which tenants have new events from a
//!   change stream on its cluster's outbox collections and from `nudge` (commands, after
//!   commit), keeps them in a dirty set, and catches them up a few at a time (`feed`).
//! - One tenant's failure is confined to it: poison events are dead-lettered, errors retried.
//! - `rebuild`: a new generation of read models built beside the live one, then switched.

mod apply;
mod batch;
mod catch_up;
mod checkpoints;
mod coalesce;
pub(crate) mod dead_letters;
mod feed;
mod feed_state;
mod lag;
mod projection;
mod rebuild;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use tenancy::catalog::CatalogCache;
use tenancy::clusters::ClusterPools;
use tenancy::fleet::{Ownership, partition_of};
use tenancy::task::AbortOnDrop;
use tenancy::{DbPrefix, Tenant, TenantId, TenantStatus};
use tokio::sync::Notify;
use tracing::Instrument;

pub use batch::PROJECTOR_FENCE;
pub use catch_up::CatchUp;
pub use checkpoints::{ProjectionStatus, status, wait_for_position};
pub use feed_state::FeedState;
pub use lag::Lag;
pub use projection::{ProjectStored, Projection, ProjectionError, Write, Writes};
pub use rebuild::{Rebuilt, rebuild_read_models, retire_projection};

use crate::read_models::ReadModelCache;

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
    projections: Vec<Arc<dyn ProjectStored>>,
    ownership: Ownership,
    generations: ReadModelCache,
    queues: HashMap<String, ClusterQueue>,
    applied: AtomicU64,
    dead_lettered: AtomicU64,
    last_delay_ms: AtomicU64,
}

/// One cluster's work: tenants with new events, what they have yet to apply, and the state of
/// the change stream that reports them.
struct ClusterQueue {
    state: Mutex<QueueState>,
    wake: Notify,
    feed: Mutex<FeedState>,
}

impl Default for ClusterQueue {
    fn default() -> ClusterQueue {
        ClusterQueue {
            state: Mutex::default(),
            wake: Notify::new(),
            feed: Mutex::new(FeedState::Opening),
        }
    }
}

#[derive(Default)]
struct QueueState {
    dirty: HashSet<TenantId>,
    pending: lag::Pending,
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
        projections: Vec<Arc<dyn ProjectStored>>,
        ownership: Ownership,
        generations: ReadModelCache,
    ) -> Projector {
        let queues = pools
            .clusters()
            .map(|c| (c.name.clone(), ClusterQueue::default()))
            .collect();
        Projector {
            inner: Arc::new(Inner {
                pools,
                catalog,
                prefix,
                projections,
                ownership,
                generations,
                queues,
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

    pub fn projections(&self) -> &[Arc<dyn ProjectStored>] {
        &self.inner.projections
    }

    /// Starts one change-stream feed and one worker per cluster; they stop when the handles drop.
    pub fn spawn(&self) -> Vec<AbortOnDrop> {
        let mut tasks = Vec::new();
        for cluster in self.inner.queues.keys() {
            let (feed, worker) = (self.clone(), self.clone());
            let (a, b) = (cluster.clone(), cluster.clone());
            tasks.push(AbortOnDrop::spawn(async move { feed.feed(&a).await }));
            tasks.push(AbortOnDrop::spawn(async move { worker.work(&b).await }));
        }
        tasks
    }

    /// A command of this instance committed events up to `position` for `tenant`.
    pub fn nudge(&self, tenant: &Tenant, position: i64) {
        self.mark(&tenant.cluster, &tenant.id, Some(position));
    }

    /// The tenant's read models changed shape (a migration of this instance added projections):
    /// catch it up now, if this instance projects it. Other instances hear of it through the
    /// cluster's change stream (`read_models::announce_change`).
    pub fn wake(&self, tenant: &Tenant) {
        self.mark(&tenant.cluster, &tenant.id, None);
    }

    /// Marks a tenant of `cluster` dirty if this instance projects it.
    fn mark(&self, cluster: &str, id: &TenantId, position: Option<i64>) {
        if !self.inner.ownership.owns(partition_of(id)) {
            return;
        }
        if let Some(queue) = self.inner.queues.get(cluster) {
            if let Ok(mut state) = queue.state.lock() {
                state.dirty.insert(id.clone());
                state.pending.saw(id, position);
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
                .queues
                .values()
                .map(|q| q.state.lock().map_or(0, |s| s.pending.len()))
                .sum(),
        }
    }

    /// Per cluster: the age of the oldest event this instance has yet to apply, and how many.
    pub fn lag(&self) -> Vec<(String, Lag)> {
        self.inner
            .queues
            .iter()
            .map(|(name, q)| {
                let lag = q.state.lock().map_or(Lag::default(), |s| s.pending.lag());
                (name.clone(), lag)
            })
            .collect()
    }

    /// Per cluster: the state of this instance's change stream on it.
    pub fn feeds(&self) -> Vec<(String, FeedState)> {
        self.inner
            .queues
            .iter()
            .map(|(name, q)| {
                let feed = q.feed.lock().map_or(FeedState::Opening, |f| f.clone());
                (name.clone(), feed)
            })
            .collect()
    }

    /// Rebuilds the tenant's read models from its outbox beside the live ones, then switches.
    pub async fn rebuild(&self, tenant: &Tenant) -> Result<Rebuilt, ProjectionError> {
        let db = self
            .inner
            .pools
            .maintenance_db(tenant)
            .await
            .map_err(tenancy_to_projection)?;
        let done = rebuild::rebuild_read_models(&db, &self.inner.projections).await?;
        self.inner.generations.invalidate(&tenant.key()).await;
        Ok(done)
    }

    /// Catches one tenant up now, if this instance holds its lease (`None` otherwise).
    async fn catch_up(&self, tenant: &Tenant) -> Result<Option<CatchUp>, ProjectionError> {
        let Some(fence) = self.inner.ownership.fence(&tenant.id) else {
            return Ok(None);
        };
        let db = self
            .inner
            .pools
            .maintenance_db(tenant)
            .await
            .map_err(tenancy_to_projection)?;
        let span = tracing::info_span!("projector.catch_up", tenant = %tenant.id);
        let done = catch_up::catch_up(&db, &self.inner.projections, fence)
            .instrument(span)
            .await?;
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
        Ok(Some(done))
    }

    /// One cluster's worker: catches dirty tenants up, a few at a time.
    async fn work(&self, cluster: &str) {
        let Some(queue) = self.inner.queues.get(cluster) else {
            return;
        };
        loop {
            let batch: Vec<TenantId> = match queue.state.lock() {
                Ok(mut state) => state.dirty.drain().collect(),
                Err(_) => return,
            };
            if batch.is_empty() {
                // Wake on a nudge, or after a while to retry tenants that failed.
                let _ = tokio::time::timeout(Duration::from_secs(1), queue.wake.notified()).await;
                continue;
            }
            let failed: Vec<TenantId> = futures::stream::iter(batch)
                .map(|id| async move { self.catch_up_by_id(queue, &id).await.err().map(|()| id) })
                .buffer_unordered(PARALLEL_TENANTS)
                .filter_map(|failed| async move { failed })
                .collect()
                .await;
            if !failed.is_empty() {
                tokio::time::sleep(Duration::from_millis(200)).await;
                if let Ok(mut state) = queue.state.lock() {
                    state.dirty.extend(failed);
                }
            }
        }
    }

    async fn catch_up_by_id(&self, queue: &ClusterQueue, id: &TenantId) -> Result<(), ()> {
        let tenant = match self.inner.catalog.tenant(id).await {
            Ok(Some(t)) if matches!(t.status, TenantStatus::Active | TenantStatus::Suspended) => t,
            Ok(_) => {
                forget(queue, id);
                return Ok(());
            }
            Err(e) => {
                tracing::warn!(tenant = %id, error = %e, "projector cannot read the catalog");
                return Err(());
            }
        };
        match self.catch_up(&tenant).await {
            Ok(None) => {
                forget(queue, id);
                Ok(())
            }
            Ok(Some(done)) if done.lease_lost => {
                tracing::info!(tenant = %id, "projection lease ran out; stopping");
                forget(queue, id);
                Ok(())
            }
            Ok(Some(done)) => {
                if let Ok(mut state) = queue.state.lock() {
                    state.pending.applied(id, done.position);
                }
                if done.diverged {
                    self.repair(&tenant);
                }
                Ok(())
            }
            Err(ProjectionError::Fenced(_)) if self.moved_away(&tenant).await => {
                tracing::info!(tenant = %tenant.key(), "the tenant moved to another cluster; projecting it there");
                Err(())
            }
            Err(ProjectionError::Fenced(why)) => {
                tracing::info!(tenant = %tenant.key(), why, "projection fenced; leaving the tenant");
                metrics::counter!("tenantry_projection_fenced_total").increment(1);
                forget(queue, id);
                Ok(())
            }
            Err(e) => {
                tracing::warn!(tenant = %id, error = %tenancy::ErrorChain(&e), "projection catch-up failed; retrying");
                Err(())
            }
        }
    }

    /// Whether the catalog places the tenant on another cluster than `tenant` says (a move
    /// switched it; the cached record is forgotten, so the next attempt goes there).
    async fn moved_away(&self, tenant: &Tenant) -> bool {
        match self.inner.catalog.store().get(&tenant.id).await {
            Ok(Some(now)) if now.key() == tenant.key() && now.cluster != tenant.cluster => {
                self.inner.catalog.invalidate(&tenant.id).await;
                true
            }
            _ => false,
        }
    }

    /// The read models applied events the outbox no longer has (the database lost acknowledged
    /// events): they hold rows of events that no longer exist, and events that took the lost
    /// positions would be skipped. Rebuild them from the outbox.
    fn repair(&self, tenant: &Tenant) {
        tracing::error!(tenant = %tenant.key(), "projection checkpoints diverge from the outbox (the database lost events?): rebuilding the read models");
        metrics::counter!("tenantry_projection_diverged_total").increment(1);
        let (projector, tenant) = (self.clone(), tenant.clone());
        tokio::spawn(async move {
            match projector.rebuild(&tenant).await {
                Ok(done) => {
                    tracing::info!(tenant = %tenant.key(), events = done.events, "read models repaired")
                }
                Err(ProjectionError::RebuildInProgress) => {}
                Err(e) => {
                    tracing::error!(tenant = %tenant.key(), error = %tenancy::ErrorChain(&e), "repairing the read models failed")
                }
            }
        });
    }
}

fn forget(queue: &ClusterQueue, id: &TenantId) {
    if let Ok(mut state) = queue.state.lock() {
        state.pending.retain(|t| t != id);
    }
}

fn tenancy_to_projection(e: tenancy::TenancyError) -> ProjectionError {
    match e {
        tenancy::TenancyError::Database(d) => ProjectionError::Database(d),
        other => ProjectionError::Poison(other.to_string()),
    }
}
