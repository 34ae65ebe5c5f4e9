//! Moving a tenant's database to another cluster while it serves: Shopify's Ghostferry recipe
//! (copy, tail the change log, a brief write hold, cut over) on MongoDB.
//!
//! 1. **Copying** (`copy`): the source database's change stream is opened first (`changes`), so
//!    every write from then on is seen; the target gets the tenant's collections, validators
//!    and indexes from its migrations (and any other index the source has), then every
//!    document, in batches, while the source keeps serving.
//! 2. **Catching up**: the keys written since are copied again (each document as it is now, or
//!    its absence), round after round, until a round is small.
//! 3. **Cutting over**: the source's fences flip to `moving` in one transaction (see `meta`):
//!    that waits for the transactions already past a fence, and every later command and
//!    projector write of the tenant aborts. Such commands *wait* (`Relocation`), they do not
//!    fail. A marker written after the flip ends the change stream's last round (if the stream
//!    does not show it within half the time commands wait, the writes are released, the
//!    catch-up goes on and the cut-over is tried again, three times in all); the copy is
//!    verified (`verify`: every document's SHA-256 compared while the source still serves, then
//!    at the cut-over the documents written since and every collection's count); the target's
//!    fences flip to `live`; then one catalog transaction switches the tenant's placement and
//!    marks the move done (`record::switch`). Every instance's cache is invalidated by the
//!    catalog's change stream; the waiting commands run again, on the target.
//! 4. The source database stays, fenced (`moved`), for a grace period, then is dropped (at once
//!    if the tenant is deleted: a deleted incarnation's moves leave nothing, `forget`).
//!
//! The move is a state machine in the catalog (`record`); one runner at a time: its heartbeat
//! holds the move, taking it over is a compare-and-set on the runner's token (possible once the
//! heartbeat is a lease time old), and every write of a runner is fenced by its token.
//! Until the switch, the source is authoritative: a runner that dies at any point leaves a move
//! that the sweeper of any instance (or the same command again) runs again from the copy, after
//! undoing a half-done cut-over (the source's fences back to `live`, the target dropped). A
//! runner that dies after the switch leaves only the finishing touches, which are idempotent.

mod changes;
mod copy;
mod fencing;
mod forget;
mod record;
mod relocation;
mod verify;

use std::sync::Arc;
use std::time::{Duration, Instant};

use mongodb::Database;
use mongodb::bson::{DateTime, Document, doc};

use crate::catalog::CatalogCache;
use crate::clusters::ClusterPools;
use crate::error::TenancyError;
use crate::migrations::{Schema, apply_pending};
use crate::task::AbortOnDrop;
use crate::{Tenant, TenantId, TenantKey, TenantStatus, failpoint, meta};

pub use forget::forget;
pub use record::{MOVES, MoveRecord, MoveState};
pub use relocation::{Relocatable, Relocation, Stopped};

/// A catch-up round this small (keys) is followed by the cut-over.
const SMALL_ROUND: usize = 200;
/// Catch-up rounds before the cut-over is attempted anyway.
const MAX_ROUNDS: usize = 50;
/// The `_id` prefix, in the source's `_meta`, of a move's marker: written at each round, its
/// change in the stream shows the round has seen every change committed before.
const MARKER: &str = "move:";
/// How long a catch-up round may take to reach its marker (the source serves meanwhile).
const ROUND: Duration = Duration::from_secs(60);
/// Cut-overs tried (the writes released again after a late one) before the move fails.
const CUT_OVERS: usize = 3;
/// Repairs (whole collections copied again) before a verification failure ends the move.
const REPAIRS: usize = 2;

#[derive(Debug, thiserror::Error)]
pub enum MoveError {
    #[error(transparent)]
    Tenancy(#[from] TenancyError),
    /// A move of this tenant is running, or the last one's source is still kept.
    #[error("tenant {0} is being moved (or its last move's source database is still kept)")]
    InProgress(TenantId),
    #[error("tenant {id} is already on cluster '{cluster}'")]
    SameCluster { id: TenantId, cluster: String },
    /// The tenant's schema is behind: the target would get a newer one than its data.
    #[error("tenant {0} has pending migrations: run them first")]
    Outdated(TenantId),
    #[error("the copy does not match the source: {0}")]
    Verify(String),
    #[error("{0}")]
    Changes(String),
    /// The source's change stream did not show a round's marker in time.
    #[error("the source's change stream did not show the round's marker within {0:?}")]
    StreamBehind(Duration),
    #[error("the copy failed: {0}")]
    Copy(String),
    /// Another runner took the move over (this one was presumed dead).
    #[error("another instance took the move over")]
    TakenOver,
    /// The tenant was deleted (or is being deleted) during the move.
    #[error("the tenant was deleted during the move")]
    Gone,
}

impl From<mongodb::error::Error> for MoveError {
    fn from(e: mongodb::error::Error) -> Self {
        MoveError::Tenancy(e.into())
    }
}

/// How moves behave.
#[derive(Debug, Clone, Copy)]
pub struct MoveSettings {
    /// How long the source database is kept after the switch.
    pub grace: Duration,
    /// A runner silent this long is presumed dead: another takes the move over.
    pub lease: Duration,
    /// How long a command waits for a cut-over before it is answered 503: a cut-over whose last
    /// round has not reached its marker at half of it releases the writes and is tried again.
    pub hold: Duration,
}

/// Told the target database after a switch (the CQRS layer wakes the tenant's projector there:
/// events the source had not projected yet are projected on the target).
pub type OnSwitch = Arc<dyn Fn(Database) + Send + Sync>;

/// Runs moves.
#[derive(Clone)]
pub struct Mover {
    catalog: CatalogCache,
    pools: ClusterPools,
    schema: Schema,
    settings: MoveSettings,
    on_switch: Option<OnSwitch>,
    /// Whether this process has removed the records left by deleted tenants' moves (once).
    orphans_removed: Arc<std::sync::atomic::AtomicBool>,
}

impl std::fmt::Debug for Mover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mover")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Mover {
    pub fn new(
        catalog: CatalogCache,
        pools: ClusterPools,
        schema: Schema,
        settings: MoveSettings,
    ) -> Mover {
        Mover {
            catalog,
            pools,
            schema,
            settings,
            on_switch: None,
            orphans_removed: Arc::default(),
        }
    }

    pub fn on_switch(mut self, hook: OnSwitch) -> Mover {
        self.on_switch = Some(hook);
        self
    }

    fn catalog_db(&self) -> &Database {
        self.catalog.store().database()
    }

    /// Records a move of the tenant to `cluster` (state `copying`); the caller then runs it
    /// (`run`), usually in the background.
    pub async fn start(&self, id: &TenantId, cluster: &str) -> Result<MoveRecord, MoveError> {
        self.pools.cluster(cluster)?;
        let tenant = self.catalog.store().require(id).await?;
        if !matches!(
            tenant.status,
            TenantStatus::Active | TenantStatus::Suspended
        ) {
            return Err(TenancyError::InvalidState {
                id: id.clone(),
                status: tenant.status.as_str(),
            }
            .into());
        }
        if tenant.cluster == cluster {
            return Err(MoveError::SameCluster {
                id: id.clone(),
                cluster: cluster.to_string(),
            });
        }
        if tenant.schema_version < self.schema.latest_version() {
            return Err(MoveError::Outdated(id.clone()));
        }
        let record = record::begin(self.catalog_db(), &tenant, cluster)
            .await?
            .ok_or_else(|| MoveError::InProgress(id.clone()))?;
        tracing::info!(tenant = %tenant.key(), from = %record.from, to = %record.to, "move started");
        Ok(record)
    }

    /// The tenant's current or last move (of its current incarnation).
    pub async fn current(&self, id: &TenantId) -> Result<Option<MoveRecord>, MoveError> {
        let tenant = self.catalog.store().require(id).await?;
        self.current_of(&tenant).await
    }

    /// `current` for a tenant record already read: that incarnation's move.
    pub async fn current_of(&self, tenant: &Tenant) -> Result<Option<MoveRecord>, MoveError> {
        Ok(record::load(self.catalog_db(), &tenant.key()).await?)
    }

    /// Runs a move `start` recorded (in this process: the sweeper of any instance resumes it
    /// if this process dies).
    pub async fn run(&self, started: &MoveRecord) -> Result<MoveRecord, MoveError> {
        let taken = record::take(self.catalog_db(), &started.key, &started.token, None).await?;
        self.steps(taken.ok_or(MoveError::TakenOver)?).await
    }

    /// Runs the move while a heartbeat tells the fleet its runner lives.
    async fn steps(&self, move_: MoveRecord) -> Result<MoveRecord, MoveError> {
        let heartbeat = {
            let (catalog, move_) = (self.catalog_db().clone(), move_.clone());
            let every = self.settings.lease / 4;
            AbortOnDrop::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    match record::beat(&catalog, &move_).await {
                        Ok(true) => {}
                        Ok(false) => return,
                        Err(e) => {
                            tracing::warn!(key = %move_.key, error = %crate::ErrorChain(&e), "move heartbeat failed")
                        }
                    }
                }
            })
        };
        let outcome = self.run_steps(move_).await;
        drop(heartbeat);
        outcome
    }

    async fn run_steps(&self, mut move_: MoveRecord) -> Result<MoveRecord, MoveError> {
        let catalog = self.catalog_db();
        if move_.state.is_finished() {
            return Ok(move_);
        }
        let tenant = match self.tenant_of(&move_).await? {
            Some(tenant) => tenant,
            None => {
                self.undo(&move_, None).await?;
                self.end(&move_, &MoveError::Gone).await?;
                return Err(MoveError::Gone);
            }
        };
        if tenant.cluster == move_.to {
            // The switch happened; the runner died before the finishing touches.
            self.after_switch(&tenant, &move_).await?;
            return Ok(record::load(catalog, &tenant.key()).await?.unwrap_or(move_));
        }
        if move_.attempts > 1 {
            tracing::warn!(tenant = %tenant.key(), state = move_.state.as_str(), "an interrupted move runs again from the copy");
            self.undo(&move_, Some(&tenant)).await?;
        }
        match self.copy_and_cut_over(&tenant, &mut move_).await {
            Ok(()) => Ok(record::load(catalog, &tenant.key()).await?.unwrap_or(move_)),
            Err(MoveError::TakenOver) => Err(MoveError::TakenOver),
            Err(e) => {
                // The switch's commit may have gone through though its answer was an error (a
                // lost reply, an unknown outcome): a switched move is finished, never undone
                // (its target is the tenant's only live copy).
                if let Some(now) = self.tenant_of(&move_).await?
                    && now.cluster == move_.to
                {
                    tracing::warn!(tenant = %now.key(), error = %crate::ErrorChain(&e), "the move's switch committed though its answer was an error; finishing the move");
                    self.after_switch(&now, &move_).await?;
                    return Ok(record::load(catalog, &now.key()).await?.unwrap_or(move_));
                }
                tracing::error!(tenant = %tenant.key(), error = %crate::ErrorChain(&e), "move failed; the tenant stays where it was");
                self.undo(&move_, Some(&tenant)).await?;
                self.end(&move_, &e).await?;
                Err(e)
            }
        }
    }

    /// Ends a move that did not switch, after its undo: failed (the record says why) while its
    /// tenant lives, removed once the tenant is gone (nothing of a deleted incarnation is kept).
    /// The tenant is looked at again after the record is marked failed: a deletion that began
    /// in between either finds the record failed (its `forget` removes it) or is seen here.
    async fn end(&self, move_: &MoveRecord, why: &MoveError) -> Result<(), MoveError> {
        let why = crate::ErrorChain(why).to_string();
        if self.tenant_of(move_).await?.is_some() {
            record::fail(self.catalog_db(), move_, &why).await?;
            if self.tenant_of(move_).await?.is_some() {
                return Ok(());
            }
        }
        record::remove(self.catalog_db(), move_).await?;
        tracing::info!(key = %move_.key, "the move of a deleted tenant undone and forgotten");
        Ok(())
    }

    /// The tenant of this move's incarnation, if it is still live.
    async fn tenant_of(&self, move_: &MoveRecord) -> Result<Option<Tenant>, MoveError> {
        let Ok(id) = TenantId::parse(&move_.tenant_id) else {
            return Ok(None);
        };
        let tenant = self.catalog.store().get(&id).await?;
        Ok(tenant.filter(|t| {
            t.key().to_string() == move_.key
                && matches!(t.status, TenantStatus::Active | TenantStatus::Suspended)
        }))
    }

    fn database_on(&self, cluster: &str, name: &str) -> Result<Database, MoveError> {
        Ok(self.pools.cluster(cluster)?.client().database(name))
    }

    /// Undoes a move that has not switched: the source's fences back to `live` (if the tenant
    /// is still there), the target's copy dropped.
    async fn undo(&self, move_: &MoveRecord, tenant: Option<&Tenant>) -> Result<(), MoveError> {
        if let Some(tenant) = tenant {
            let source = self.pools.maintenance_db(tenant).await?;
            let Some(reopened) =
                fencing::flip_source(&source, move_, meta::MOVING, meta::LIVE).await?
            else {
                return Err(MoveError::TakenOver);
            };
            if reopened > 0 {
                tracing::info!(tenant = %tenant.key(), fences = reopened, "the source's writes are open again");
            }
            source
                .database()
                .collection::<Document>(meta::META)
                .delete_many(meta::id_prefix(MARKER))
                .await?;
        }
        self.database_on(&move_.to, &move_.database)?.drop().await?;
        Ok(())
    }

    async fn copy_and_cut_over(
        &self,
        tenant: &Tenant,
        move_: &mut MoveRecord,
    ) -> Result<(), MoveError> {
        let catalog = self.catalog_db();
        let key = tenant.key();
        let source_db = self.pools.maintenance_db(tenant).await?;
        let source = source_db.database();
        let target_tenant = Tenant {
            cluster: move_.to.clone(),
            ..tenant.clone()
        };
        let target_db = self.pools.maintenance_db(&target_tenant).await?;
        let target = target_db.database();

        if !record::enter(catalog, move_, MoveState::Copying).await? {
            return Err(MoveError::TakenOver);
        }
        // The target starts empty (whatever an earlier attempt, or anything else, left there is
        // not the tenant's: until the switch the source is).
        target.drop().await?;
        let mut changes = changes::Changes::open(source).await?;
        apply_pending(&target_db, &self.schema).await?;
        copy::shape(source, target).await?;
        // The ledger the migrations wrote is replaced by the source's own `_meta`.
        target
            .collection::<Document>(meta::META)
            .delete_many(doc! {})
            .await?;
        let started = Instant::now();
        let copied = copy::everything(source, target, |copied| {
            let (move_, key) = (&*move_, &key);
            async move {
                failpoint::hit("move.copying");
                tracing::info!(tenant = %key, documents = copied, "move: copying");
                Ok(record::update(catalog, move_, doc! {"documents_copied": copied}).await?)
            }
        })
        .await?;
        let per_second = copied as f64 / started.elapsed().as_secs_f64().max(0.001);
        tracing::info!(tenant = %key, documents = copied, per_second = per_second.round(), "move: copied");

        if !record::enter(catalog, move_, MoveState::CatchingUp).await? {
            return Err(MoveError::TakenOver);
        }
        let marker = format!("{MARKER}{}", move_.token);
        self.catch_up(&mut changes, source, target, &marker, None)
            .await?;
        // Verification, first step, while the source serves: what differs is copied again;
        // from here on every key copied again is compared too, and what is not equal yet is
        // compared again at the cut-over.
        let found = verify::differences(source, target).await?;
        copy::keys(source, target, &found).await?;
        let mut unsettled = verify::unequal(source, target, &found).await?;
        tracing::info!(tenant = %key, keys = changes::count(&found), unsettled = changes::count(&unsettled), "move: verified while serving");
        let mut cut_over = 1;
        let (held, fence_ms, dirty) = loop {
            self.catch_up(&mut changes, source, target, &marker, Some(&mut unsettled))
                .await?;
            if !record::enter(catalog, move_, MoveState::CuttingOver).await? {
                return Err(MoveError::TakenOver);
            }
            failpoint::hit("move.before_hold");
            let held = Instant::now();
            let Some(fenced) =
                fencing::flip_source(&source_db, move_, meta::LIVE, meta::MOVING).await?
            else {
                return Err(MoveError::TakenOver);
            };
            let fence_ms = millis(held.elapsed());
            tracing::info!(tenant = %key, fences = fenced, "move: the source's writes are held");
            failpoint::hit("move.cutting_over");
            let round = changes::mark(source, &marker).await?;
            let last_round = self.settings.hold / 2;
            // A test's stand-in for a lagging stream: it waits for a round never written.
            let round = match failpoint::fails("move.cut_over_late") {
                true => round.map(|r| r + 1),
                false => round,
            };
            let last = changes.drain_through(&marker, round, last_round).await;
            match last {
                Ok(dirty) => break (held, fence_ms, dirty),
                Err(MoveError::StreamBehind(_)) if cut_over < CUT_OVERS => {
                    // The writes must not wait for a lagging stream: released, then the
                    // catch-up goes on and the cut-over is tried again.
                    if fencing::flip_source(&source_db, move_, meta::MOVING, meta::LIVE)
                        .await?
                        .is_none()
                    {
                        return Err(MoveError::TakenOver);
                    }
                    tracing::warn!(tenant = %key, cut_over, waited = ?last_round, "move: the cut-over's round was late; the source's writes are released, catching up again");
                    failpoint::hit("move.released");
                    cut_over += 1;
                    if !record::enter(catalog, move_, MoveState::CatchingUp).await? {
                        return Err(MoveError::TakenOver);
                    }
                }
                Err(e) => return Err(e),
            }
        };
        // Where the hold's time goes, for the log.
        let stream_ms = millis(held.elapsed()) - fence_ms;
        let last_round_keys = changes::count(&dirty);
        let step = Instant::now();
        copy::keys(source, target, &dirty).await?;
        let copy_ms = millis(step.elapsed());
        let step = Instant::now();
        changes::merge(&mut unsettled, dirty);
        let compared_keys = changes::count(&unsettled);
        self.verify(source, target, &unsettled, &key).await?;
        let verify_ms = millis(step.elapsed());
        meta::flip_fences(target, None, meta::MOVING, meta::LIVE).await?;
        target
            .collection::<Document>(meta::META)
            .delete_one(doc! {"_id": &marker})
            .await?;
        let pause_ms = millis(held.elapsed());
        let drop_after =
            DateTime::from_system_time(std::time::SystemTime::now() + self.settings.grace);
        if !record::switch(catalog, move_, &key, pause_ms, drop_after).await? {
            return match self.tenant_of(move_).await? {
                None => Err(MoveError::Gone),
                Some(_) => Err(MoveError::TakenOver),
            };
        }
        self.catalog.invalidate(&tenant.id).await;
        tracing::info!(tenant = %key, from = %move_.from, to = %move_.to, write_pause_ms = pause_ms, fence_ms, stream_ms, last_round_keys, copy_ms, compared_keys, verify_ms, cut_overs = cut_over, "move: switched");
        failpoint::hit("move.after_switch");
        self.after_switch(&target_tenant, move_).await
    }

    /// Catch-up rounds until one is small, or no smaller than the one before (writes come as
    /// fast as they are applied): every key written up to the round's marker is copied again
    /// (and, once verification has begun, compared: those not equal yet go to `unsettled`).
    async fn catch_up(
        &self,
        changes: &mut changes::Changes,
        source: &Database,
        target: &Database,
        marker: &str,
        mut unsettled: Option<&mut changes::DirtyKeys>,
    ) -> Result<(), MoveError> {
        let mut previous = usize::MAX;
        for round in 1..=MAX_ROUNDS {
            let dirty = changes.caught_up(source, marker, ROUND).await?;
            let keys = copy::keys(source, target, &dirty).await?;
            if let Some(unsettled) = unsettled.as_deref_mut() {
                let differ = verify::unequal(source, target, &dirty).await?;
                changes::settle(unsettled, &dirty, differ);
            }
            failpoint::hit("move.catching_up");
            tracing::info!(database = source.name(), round, keys, "move: catching up");
            if keys <= SMALL_ROUND || (round > 1 && keys >= previous) {
                break;
            }
            previous = keys;
        }
        Ok(())
    }

    /// Verification, second step, the source still: the keys not known equal and every
    /// collection's count. A collection that differs is copied again whole and the whole copy
    /// verified again.
    async fn verify(
        &self,
        source: &Database,
        target: &Database,
        unsettled: &changes::DirtyKeys,
        key: &TenantKey,
    ) -> Result<(), MoveError> {
        let mut differ = verify::settle(source, target, unsettled).await?;
        for repair in 1..=REPAIRS {
            if differ.is_empty() {
                return Ok(());
            }
            tracing::warn!(tenant = %key, collections = ?differ, repair, "move: the copy differs; copying those collections again");
            for name in &differ {
                copy::again(source, target, name).await?;
            }
            differ = verify::everything(source, target).await?;
        }
        if differ.is_empty() {
            Ok(())
        } else {
            Err(MoveError::Verify(differ.join(", ")))
        }
    }

    /// After the switch: the source's fences say `moved` (nothing commits there again).
    async fn after_switch(&self, tenant: &Tenant, move_: &MoveRecord) -> Result<(), MoveError> {
        let source = self.database_on(&move_.from, &move_.database)?;
        meta::flip_fences(&source, None, meta::MOVING, meta::MOVED).await?;
        self.catalog.invalidate(&tenant.id).await;
        if let Some(hook) = &self.on_switch {
            hook(self.database_on(&move_.to, &move_.database)?);
        }
        Ok(())
    }

    /// Drops a done move's source database once its grace period is over (never the cluster
    /// the tenant is on now).
    async fn drop_source_when_due(&self, move_: &MoveRecord) -> Result<bool, MoveError> {
        let due = move_
            .drop_source_after
            .is_some_and(|after| after <= DateTime::now());
        if !due || move_.source_dropped_at.is_some() {
            return Ok(false);
        }
        if let Some(tenant) = self.tenant_of(move_).await?
            && tenant.cluster == move_.from
        {
            return Ok(false);
        }
        self.database_on(&move_.from, &move_.database)?
            .drop()
            .await?;
        record::source_dropped(self.catalog_db(), &move_.key).await?;
        tracing::info!(key = %move_.key, cluster = %move_.from, database = %move_.database, "moved tenant's source database dropped");
        Ok(true)
    }

    /// Resumes moves whose runner died and drops sources whose grace period is over; returns
    /// how many moves it worked on.
    pub async fn sweep(&self) -> Result<usize, MoveError> {
        let catalog = self.catalog_db();
        let lease = i64::try_from(self.settings.lease.as_millis()).unwrap_or(i64::MAX);
        let silent_since = DateTime::from_millis(DateTime::now().timestamp_millis() - lease);
        let mut worked = 0;
        if !self
            .orphans_removed
            .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            let removed = forget::orphans(self.catalog.store()).await?;
            if removed > 0 {
                tracing::info!(
                    records = removed,
                    "records of deleted tenants' moves removed"
                );
            }
        }
        for move_ in record::open(catalog).await? {
            if move_.state == MoveState::Done {
                if self.drop_source_when_due(&move_).await? {
                    worked += 1;
                }
                continue;
            }
            let Some(taken) =
                record::take(catalog, &move_.key, &move_.token, Some(silent_since)).await?
            else {
                continue;
            };
            tracing::warn!(key = %taken.key, state = taken.state.as_str(), attempt = taken.attempts, "a move whose runner died is resumed");
            worked += 1;
            if let Err(e) = self.steps(taken).await {
                tracing::warn!(key = %move_.key, error = %crate::ErrorChain(&e), "a resumed move did not finish");
            }
        }
        Ok(worked)
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Resumes moves whose runner died and drops due sources every `every`, on this instance (any
/// instance may: taking a move over is a compare-and-set on its token, so one wins).
pub fn spawn_move_sweeper(mover: Mover, every: Duration) -> AbortOnDrop {
    AbortOnDrop::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            match mover.sweep().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(moves = n, "move sweep worked on moves"),
                Err(e) => {
                    tracing::warn!(error = %crate::ErrorChain(&e), "move sweep failed; retrying")
                }
            }
        }
    })
}
