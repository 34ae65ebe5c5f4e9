//! Running as a fleet: any number of instances share one catalog.
//!
//! - `instances`: each instance registers itself and heartbeats (`expires_at` on the database's
//!   clock); a record past its expiry is a dead instance, whose open transactions survivors end
//!   (`sessions`: the lsids it recorded) before removing it.
//! - `leases` + `plan` + `partition`: projection work is owned per partition of the tenant space
//!   through leases with fencing tokens; every instance computes the same balancing plan from
//!   the lease table and takes or hands back partitions to follow it.
//! - `ownership`: what this instance holds now, read by the projector before every batch.
//!
//! Nothing here relies on "only one process runs": a holder that loses a lease (paused,
//! partitioned) keeps nothing but a token that the tenant databases refuse.

mod instances;
mod leases;
mod ownership;
mod partition;
mod plan;
mod sessions;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mongodb::Collection;
use mongodb::bson::Document;
use serde::Serialize;

pub use instances::{InstanceRecord, expiry};
pub use leases::take_lease;
pub use ownership::{Fence, Ownership};
pub use partition::{PARTITIONS, Partition, partition_of};
pub use sessions::{InTransaction, SessionLog, kill_sessions};

use crate::catalog::CatalogStore;
use crate::clusters::ClusterPools;
use crate::task::AbortOnDrop;
use crate::{TenantId, TenantStatus};

/// How the fleet behaves.
#[derive(Debug, Clone)]
pub struct FleetSettings {
    /// Lease time: a dead instance's work is taken over within it.
    pub lease: Duration,
    /// Projection work shared out by leases (`false`: every instance works on every tenant).
    pub leases: bool,
    /// Whether this instance runs a projector (one that does not never takes partitions).
    pub projects: bool,
    /// The server's version, shown in the registry.
    pub version: String,
}

impl FleetSettings {
    /// Heartbeats per lease time.
    fn heartbeat(&self) -> Duration {
        self.lease / 4
    }

    /// How long a renewed lease is assumed held locally: less than the lease time, so the
    /// holder stops before anyone else may start.
    fn local_validity(&self) -> Duration {
        self.lease * 4 / 5
    }
}

/// This instance's membership in the fleet. Cheap to clone.
#[derive(Clone)]
pub struct Fleet {
    inner: Arc<Inner>,
}

struct Inner {
    id: String,
    settings: FleetSettings,
    store: CatalogStore,
    pools: ClusterPools,
    instances: Collection<Document>,
    leases: Collection<Document>,
    ownership: Ownership,
    /// Tenants per partition (the plan's weights): recounted when the number of tenants
    /// changes, and at least every `WEIGHTS_MAX_AGE`.
    weights: Mutex<Option<Weights>>,
}

/// How often the tenants-per-partition weights are recounted at least.
const WEIGHTS_MAX_AGE: Duration = Duration::from_secs(30);

struct Weights {
    at: Instant,
    tenants: u64,
    per_partition: Vec<u64>,
}

/// The tenants whose projections run (the ones the plan balances).
const PROJECTED: [TenantStatus; 2] = [TenantStatus::Active, TenantStatus::Suspended];

/// An instance as `GET /admin/instances` shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InstanceView {
    pub id: String,
    pub version: String,
    pub host: String,
    pub pid: u32,
    pub started_at: String,
    pub last_heartbeat: String,
    /// Whether it runs a projector.
    pub projects: bool,
    /// Partitions of the tenant space whose projections it owns.
    pub partitions: Vec<u16>,
    /// Tenants whose projections it owns.
    pub tenants: Vec<String>,
}

impl Fleet {
    /// This instance's membership (nothing is written until the first heartbeat). Transactions
    /// run through `pools` record their sessions in this instance's record from then on.
    pub fn new(store: CatalogStore, pools: ClusterPools, settings: FleetSettings) -> Fleet {
        let db = store.database().clone();
        let instances = db.collection::<Document>(instances::INSTANCES);
        let id = uuid::Uuid::now_v7().to_string();
        pools.sessions().attach(instances.clone(), id.clone());
        let ownership = if settings.leases {
            Ownership::leased()
        } else {
            Ownership::everything()
        };
        Fleet {
            inner: Arc::new(Inner {
                id,
                settings,
                store,
                pools,
                leases: db.collection::<Document>(leases::LEASES),
                instances,
                ownership,
                weights: Mutex::new(None),
            }),
        }
    }

    pub fn id(&self) -> &str {
        &self.inner.id
    }

    pub fn settings(&self) -> &FleetSettings {
        &self.inner.settings
    }

    pub fn ownership(&self) -> &Ownership {
        &self.inner.ownership
    }

    /// Heartbeats, lease renewal and rebalancing, and ending dead instances, until dropped.
    pub fn spawn(&self) -> AbortOnDrop {
        let fleet = self.clone();
        AbortOnDrop::spawn(async move {
            loop {
                let started = Instant::now();
                // On failure the grants keep their deadline and run out on their own.
                if let Err(e) = fleet.tick().await {
                    tracing::warn!(error = %crate::ErrorChain(&e), "fleet heartbeat failed; retrying");
                }
                let pause = fleet
                    .inner
                    .settings
                    .heartbeat()
                    .saturating_sub(started.elapsed());
                tokio::time::sleep(pause.max(Duration::from_millis(50))).await;
            }
        })
    }

    /// Graceful stop: hands every lease back at once and leaves the registry.
    pub async fn leave(&self) {
        self.inner.ownership.clear();
        let released = leases::release_all(&self.inner.leases, &self.inner.id).await;
        let removed = instances::remove(&self.inner.instances, &self.inner.id).await;
        match released.and(removed) {
            Ok(()) => {
                tracing::info!(instance = %self.inner.id, "left the fleet; leases handed back")
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not hand leases back; they expire on their own")
            }
        }
    }

    /// One heartbeat: registry, dead instances, leases.
    pub async fn tick(&self) -> crate::Result<()> {
        let inner = &self.inner;
        let sent = Instant::now();
        let created = instances::heartbeat(&inner.instances, &inner.id, &inner.settings).await?;
        if created {
            tracing::info!(instance = %inner.id, "registered in the fleet");
        }
        let registry = instances::all(&inner.instances).await?;
        self.end_dead_instances(&registry).await;
        if !inner.settings.leases {
            return Ok(());
        }
        leases::ensure_partitions(&inner.leases).await?;
        leases::renew_all(&inner.leases, &inner.id, inner.settings.lease).await?;
        let table = leases::partitions(&inner.leases).await?;
        let held = leases::held_by(&table, &inner.id);
        let until = sent + inner.settings.local_validity();
        self.announce(&held, until);
        let live: BTreeSet<String> = registry
            .iter()
            .filter(|(r, live)| *live && r.projects && !r.is_dead_on_this_host())
            .map(|(r, _)| r.id.clone())
            .chain(inner.settings.projects.then(|| inner.id.clone()))
            .collect();
        let owners: BTreeMap<Partition, String> = table
            .iter()
            .filter(|l| l.valid)
            .filter_map(|l| Some((l.partition, l.owner.clone()?)))
            .filter(|(_, owner)| live.contains(owner))
            .collect();
        if !inner.settings.projects {
            if !held.is_empty() {
                let all: Vec<Partition> = held.keys().copied().collect();
                self.announce(&BTreeMap::new(), until);
                leases::release(&inner.leases, &inner.id, &all).await?;
            }
            return Ok(());
        }
        let weights = self.weights().await?;
        let live: Vec<String> = live.into_iter().collect();
        let target = plan::plan(&live, &owners, &weights);
        let hand_back: Vec<Partition> = held
            .keys()
            .filter(|p| target.get(p).is_some_and(|o| *o != inner.id))
            .copied()
            .collect();
        let take: Vec<Partition> = target
            .iter()
            .filter(|(p, o)| **o == inner.id && !owners.contains_key(p))
            .map(|(p, _)| *p)
            .collect();
        if hand_back.is_empty() && take.is_empty() {
            return Ok(());
        }
        // Stop using what is handed back before the others may take it.
        let kept: BTreeMap<Partition, i64> = held
            .iter()
            .filter(|(p, _)| !hand_back.contains(p))
            .map(|(p, t)| (*p, *t))
            .collect();
        self.announce(&kept, until);
        leases::release(&inner.leases, &inner.id, &hand_back).await?;
        let sent = Instant::now();
        leases::acquire(&inner.leases, &inner.id, &take, inner.settings.lease).await?;
        let held = leases::held_by(&leases::partitions(&inner.leases).await?, &inner.id);
        self.announce(&held, sent + inner.settings.local_validity());
        tracing::info!(
            instance = %inner.id,
            taken = take.len(),
            handed_back = hand_back.len(),
            held = held.len(),
            "projection partitions moved"
        );
        metrics::counter!("tenantry_fleet_partitions_taken_total").increment(take.len() as u64);
        metrics::counter!("tenantry_fleet_partitions_handed_back_total")
            .increment(hand_back.len() as u64);
        Ok(())
    }

    fn announce(&self, held: &BTreeMap<Partition, i64>, until: Instant) {
        self.inner.ownership.set(held, until);
    }

    /// Ends the sessions of instances that are dead and removes their records.
    async fn end_dead_instances(&self, registry: &[(InstanceRecord, bool)]) {
        for (record, live) in registry {
            if record.id == self.inner.id || (*live && !record.is_dead_on_this_host()) {
                continue;
            }
            let mut ended = true;
            for cluster in self.inner.pools.clusters() {
                if let Err(e) = sessions::kill_sessions(cluster.client(), &record.sessions).await {
                    tracing::warn!(cluster = %cluster.name, error = %e, "cannot end a dead instance's sessions");
                    ended = false;
                }
            }
            if ended
                && instances::remove_dead(&self.inner.instances, record)
                    .await
                    .unwrap_or(false)
            {
                tracing::warn!(
                    instance = %record.id,
                    host = %record.host,
                    sessions = record.sessions.len(),
                    "instance found dead: its transactions ended, its leases free"
                );
                metrics::counter!("tenantry_fleet_dead_instances_total").increment(1);
            }
        }
    }

    /// Tenants per partition: one count per heartbeat, a recount of the ids only when the
    /// count moved (or every `WEIGHTS_MAX_AGE`).
    async fn weights(&self) -> crate::Result<Vec<u64>> {
        let tenants = self.inner.store.count_with_status(&PROJECTED).await?;
        if let Ok(cached) = self.inner.weights.lock()
            && let Some(w) = cached.as_ref()
            && w.tenants == tenants
            && w.at.elapsed() < WEIGHTS_MAX_AGE
        {
            return Ok(w.per_partition.clone());
        }
        let mut per_partition = vec![0u64; usize::from(PARTITIONS)];
        for id in self.projected_tenants().await? {
            per_partition[usize::from(partition_of(&id))] += 1;
        }
        if let Ok(mut cached) = self.inner.weights.lock() {
            *cached = Some(Weights {
                at: Instant::now(),
                tenants,
                per_partition: per_partition.clone(),
            });
        }
        Ok(per_partition)
    }

    async fn projected_tenants(&self) -> crate::Result<Vec<TenantId>> {
        self.inner.store.ids_with_status(&PROJECTED).await
    }

    /// The live instances and the tenants each one projects.
    pub async fn instances(&self) -> crate::Result<Vec<InstanceView>> {
        live_instances(&self.inner.store).await
    }

    /// Runs `job` under the lease `name` unless another live instance holds it (`Ok(None)`).
    /// The lease is renewed by the heartbeat while this instance lives, and ended afterwards.
    pub async fn exclusively<T, F>(&self, name: &str, job: F) -> crate::Result<Option<T>>
    where
        F: std::future::Future<Output = crate::Result<T>>,
    {
        let inner = &self.inner;
        let Some(token) =
            leases::acquire_job(&inner.leases, &inner.id, name, inner.settings.lease).await?
        else {
            return Ok(None);
        };
        tracing::debug!(job = name, token, "job lease taken");
        let outcome = job.await;
        if let Err(e) = leases::finish_job(&inner.leases, &inner.id, name).await {
            tracing::warn!(job = name, error = %e, "cannot end a job lease; it expires on its own");
        }
        outcome.map(Some)
    }
}

/// The live instances registered in `store`'s catalog and the tenants each one projects (for
/// the admin API and operator commands, which read the registry without joining the fleet).
pub async fn live_instances(store: &CatalogStore) -> crate::Result<Vec<InstanceView>> {
    let db = store.database();
    let registry = instances::all(&db.collection::<Document>(instances::INSTANCES)).await?;
    let table = leases::partitions(&db.collection::<Document>(leases::LEASES)).await?;
    // No partition leases at all: the fleet runs without leases, every projector owns all.
    let leased = table.iter().any(|l| l.owner.is_some());
    let tenants = store.ids_with_status(&PROJECTED).await?;
    let rfc3339 = crate::time::rfc3339;
    let mut views = Vec::new();
    for (record, live) in registry {
        if !live {
            continue;
        }
        let partitions: Vec<Partition> = if !record.projects {
            Vec::new()
        } else if leased {
            leases::held_by(&table, &record.id).into_keys().collect()
        } else {
            (0..PARTITIONS).collect()
        };
        let owned: BTreeSet<Partition> = partitions.iter().copied().collect();
        views.push(InstanceView {
            tenants: tenants
                .iter()
                .filter(|t| owned.contains(&partition_of(t)))
                .map(|t| t.to_string())
                .collect(),
            partitions,
            id: record.id,
            version: record.version,
            host: record.host,
            pid: u32::try_from(record.pid).unwrap_or(0),
            projects: record.projects,
            started_at: rfc3339(record.started_at),
            last_heartbeat: rfc3339(record.heartbeat_at),
        });
    }
    views.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(views)
}
