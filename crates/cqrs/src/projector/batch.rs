//! One batch of events applied to a tenant's projections, exactly once, whatever else runs.
//!
//! Everything happens in one snapshot transaction: the checkpoints are read, the events after
//! the lowest of them are read, and then one `bulkWrite` passes the writer's fence, applies the
//! events to every projection behind them, and moves the checkpoints by compare-and-set from
//! the positions they were read at (`apply`). Any concurrent writer of the same checkpoints (another instance, a paused owner
//! that woke up, a retry) either conflicts — the transaction is retried and reads everything
//! again — or finds the checkpoint moved and gives up the batch. So an event is applied to a
//! read model exactly once, even by N uncoordinated projectors, and a batch is never applied
//! from a stale in-memory copy of the outbox.
//!
//! A poison event (one a projection cannot apply) fails its batch; the events are then applied
//! one by one per projection, and the poison event is dead-lettered with its checkpoint moved
//! past it, so the projection moves on.

use futures::TryStreamExt;
use mongodb::bson::{DateTime, Document, doc};
use mongodb::options::UpdateModifications;
use mongodb::{ClientSession, Database};
use std::sync::Arc;
use tenancy::clusters::TenantDb;
use tenancy::meta::{META, live_fence};
use tenancy::transaction;

use super::apply::{BatchWrites, Guard};
use super::checkpoints::{self, Checkpoint, Progress};
use super::dead_letters;
use super::projection::{ProjectStored, ProjectionError, Writes};
use crate::outbox::{OUTBOX, StoredEvent};
use crate::read_models::{Generation, POINTER};

/// Events read per batch.
pub(crate) const BATCH: i64 = 200;
/// The `_meta` document of the projector's fence (the lease holder's token).
pub const PROJECTOR_FENCE: &str = "projector";
/// The `_meta` document of a running rebuild.
pub(crate) const REBUILD_MARKER: &str = "rebuild";
/// How long a rebuild holds its marker without progress before another may take over.
pub(crate) const REBUILD_LEASE: std::time::Duration = std::time::Duration::from_secs(60);

/// Who writes, and where.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Track<'a> {
    /// The live read models, by the holder of the lease with this fencing token.
    Live { token: i64 },
    /// A rebuild's new generation, by the rebuild `id`.
    Shadow { id: &'a str, generation: Generation },
}

impl Track<'_> {
    fn prefix(&self) -> &'static str {
        match self {
            Track::Live { .. } => checkpoints::LIVE,
            Track::Shadow { .. } => checkpoints::SHADOW,
        }
    }

    fn generation(&self, read: &Progress) -> Generation {
        match self {
            Track::Live { .. } => read.live_generation,
            Track::Shadow { generation, .. } => *generation,
        }
    }

    /// The writer's fence, passed in the batch's transaction (`Fenced` when it matches nothing).
    fn guard(&self) -> Guard {
        match self {
            Track::Live { token } => {
                let mut filter = live_fence(PROJECTOR_FENCE);
                filter.insert("token", doc! {"$lte": token});
                // A real change (the counter moves), never a no-op `$set` of the same token: a
                // no-op takes no write, so it would not conflict with the fence flipping under it.
                let passed = doc! {"$set": {"token": token}, "$inc": {"batches": 1_i64}};
                Guard {
                    filter,
                    update: UpdateModifications::Document(passed),
                    fenced: "a newer lease holder, or the tenant is being deleted",
                }
            }
            Track::Shadow { id, .. } => {
                let renew =
                    vec![doc! {"$set": {"expires_at": tenancy::fleet::expiry(REBUILD_LEASE)}}];
                Guard {
                    filter: doc! {"_id": REBUILD_MARKER, "owner": *id},
                    update: UpdateModifications::Pipeline(renew),
                    fenced: "another rebuild took over",
                }
            }
        }
    }

    /// The batch's writes, behind this track's fence, moving its checkpoints as `read`.
    fn writes<'a>(&self, db: &'a Database, read: &Progress) -> BatchWrites<'a> {
        BatchWrites::new(
            db,
            self.generation(read),
            self.guard(),
            checkpoints::shared_id(self.prefix()),
            read.recorded,
        )
    }
}

/// What one batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Batch {
    Applied {
        events: u64,
        last_at: DateTime,
        /// The position every projection reached.
        position: i64,
        /// The batch read every event there was (fewer than a batch): the projections are
        /// caught up as of its snapshot.
        drained: bool,
    },
    /// Nothing left to apply: every checkpoint is at `position` or beyond. `diverged`: the read
    /// models applied events the outbox no longer has (the database lost acknowledged events:
    /// a checkpoint is beyond the last event, or the event at a checkpoint is another one now).
    CaughtUp { position: i64, diverged: bool },
    /// A rebuild's generation caught up and became the live one.
    Switched {
        generation: Generation,
        position: i64,
    },
}

fn names(projections: &[Arc<dyn ProjectStored>]) -> Vec<&'static str> {
    projections.iter().map(|p| p.name()).collect()
}

async fn events_after(
    db: &Database,
    session: &mut ClientSession,
    from: i64,
    limit: i64,
) -> mongodb::error::Result<Vec<StoredEvent>> {
    db.collection::<StoredEvent>(OUTBOX)
        .find(doc! {"_id": {"$gt": from}})
        .sort(doc! {"_id": 1})
        .limit(limit)
        .session(&mut *session)
        .await?
        .stream(session)
        .try_collect()
        .await
}

/// Whether the outbox has an event at `position` or beyond (a range read: it touches only
/// those events, however long the outbox is).
async fn reaches(
    db: &Database,
    session: &mut ClientSession,
    position: i64,
) -> mongodb::error::Result<bool> {
    let found = db
        .collection::<Document>(OUTBOX)
        .find_one(doc! {"_id": {"$gte": position}})
        .projection(doc! {"_id": 1})
        .session(session)
        .await?;
    Ok(found.is_some())
}

/// Applies the next batch of events (see the module documentation).
pub(crate) async fn run(
    db: &TenantDb,
    projections: &[Arc<dyn ProjectStored>],
    track: Track<'_>,
) -> Result<Batch, ProjectionError> {
    let database = db.database();
    let names = &names(projections);
    transaction::run(db, |mut session| async move {
        let result = async {
            let read =
                checkpoints::load(database, Some(&mut session), track.prefix(), names).await?;
            let generation = track.generation(&read);
            let from = read.lowest();
            if read.importing && matches!(track, Track::Live { .. }) {
                // The import loads (or clears) the outbox, then rebuilds the read models.
                return Ok(Batch::CaughtUp {
                    position: from,
                    diverged: false,
                });
            }
            // The event at the lowest checkpoint comes along, to check it is still the one the
            // read models applied.
            let mut events = events_after(database, &mut session, from - 1, BATCH + 1).await?;
            let drained = events.len() < (BATCH + 1) as usize;
            let anchor = match events.first() {
                Some(first) if from > 0 && first.position == from => Some(events.remove(0)),
                _ => None,
            };
            if from > 0 && diverged(&read, from, anchor.as_ref()) {
                return Ok(Batch::CaughtUp {
                    position: from,
                    diverged: true,
                });
            }
            let Some(last) = events.last() else {
                let highest = read.highest();
                let diverged = highest > 0 && !reaches(database, &mut session, highest).await?;
                if let (Track::Shadow { .. }, false) = (track, diverged) {
                    track.guard().pass(database, &mut session).await?;
                    switch(database, &mut session, names, generation, from).await?;
                    return Ok(Batch::Switched {
                        generation,
                        position: from,
                    });
                }
                return Ok(Batch::CaughtUp {
                    position: from,
                    diverged,
                });
            };
            let mut writes = track.writes(database, &read);
            for projection in projections {
                let before = &read.checkpoints[projection.name()];
                let pending: Vec<&StoredEvent> = events
                    .iter()
                    .filter(|e| e.position > before.position)
                    .collect();
                if pending.is_empty() {
                    continue;
                }
                let mut planned = Writes::default();
                projection.project_stored(&pending, &mut planned)?;
                writes.read_model_writes(planned, projection.read_models());
                writes.checkpoint(projection.name(), before, last);
            }
            writes.execute(&mut session).await?;
            Ok(Batch::Applied {
                events: events.len() as u64,
                last_at: last.occurred_at,
                position: last.position,
                drained,
            })
        }
        .await;
        (session, result)
    })
    .await
}

/// Whether the event now at `position` is not the one a checkpoint recorded there (it is gone,
/// or another event took its position after the database lost it).
fn diverged(read: &Progress, position: i64, anchor: Option<&StoredEvent>) -> bool {
    read.events_at(position).any(|recorded| match anchor {
        None => true,
        Some(event) => !event.id.is_empty() && event.id != recorded,
    })
}

/// In a rebuild's last batch: its generation becomes the live one, with its checkpoints.
async fn switch(
    db: &Database,
    session: &mut ClientSession,
    names: &[&'static str],
    generation: Generation,
    position: i64,
) -> Result<(), ProjectionError> {
    let meta = db.collection::<Document>(META);
    // Touching the live fence orders the switch with live batches (they write it first).
    let touched = meta
        .update_one(
            live_fence(PROJECTOR_FENCE),
            doc! {"$set": {"switched_at": DateTime::now()}},
        )
        .session(&mut *session)
        .await?;
    if touched.matched_count != 1 {
        return Err(ProjectionError::Fenced("the tenant is being deleted"));
    }
    let shadow = checkpoints::load(db, Some(&mut *session), checkpoints::SHADOW, names).await?;
    let caught_up: Vec<(&str, Checkpoint)> = names
        .iter()
        .map(|name| {
            let at = shadow.checkpoints.get(name).cloned().unwrap_or(Checkpoint {
                position,
                ..Checkpoint::default()
            });
            (*name, at)
        })
        .collect();
    checkpoints::replace(db, session, checkpoints::LIVE, &caught_up).await?;
    meta.update_one(
        doc! {"_id": POINTER},
        doc! {"$set": {"generation": generation as i32}},
    )
    .upsert(true)
    .session(&mut *session)
    .await?;
    checkpoints::clear(db, Some(&mut *session), checkpoints::SHADOW).await?;
    meta.delete_one(doc! {"_id": REBUILD_MARKER})
        .session(session)
        .await?;
    Ok(())
}

/// What one isolated step did.
enum Step {
    Applied,
    DeadLettered,
    Done,
}

/// Applies up to one batch's worth of events to each projection, one event per transaction;
/// dead-letters the events a projection cannot apply. Returns how many were dead-lettered.
pub(crate) async fn isolate_poison(
    db: &TenantDb,
    projections: &[Arc<dyn ProjectStored>],
    track: Track<'_>,
) -> Result<u64, ProjectionError> {
    let mut dead = 0;
    for projection in projections {
        for _ in 0..BATCH {
            match step(db, projection.as_ref(), track, None).await {
                Ok(Step::Applied) => {}
                Ok(Step::Done) => break,
                Ok(Step::DeadLettered) => dead += 1,
                Err(ProjectionError::Poison(reason)) => {
                    if let Step::DeadLettered =
                        step(db, projection.as_ref(), track, Some(&reason)).await?
                    {
                        dead += 1;
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(dead)
}

/// Applies the projection's next event (or, with `poison`, dead-letters it) in a transaction.
async fn step(
    db: &TenantDb,
    projection: &dyn ProjectStored,
    track: Track<'_>,
    poison: Option<&str>,
) -> Result<Step, ProjectionError> {
    let database = db.database();
    let name = [projection.name()];
    let name = &name;
    transaction::run(db, |mut session| async move {
        let result = async {
            let read = checkpoints::load(database, Some(&mut session), track.prefix(), name).await?;
            let before = read.checkpoints[name[0]].clone();
            let generation = track.generation(&read);
            let next = events_after(database, &mut session, before.position, 1).await?;
            let Some(event) = next.first() else {
                return Ok(Step::Done);
            };
            let mut writes = track.writes(database, &read);
            let done = match poison {
                None => {
                    let mut planned = Writes::default();
                    projection.project_stored(&[event], &mut planned)?;
                    writes.read_model_writes(planned, projection.read_models());
                    Step::Applied
                }
                Some(_) => Step::DeadLettered,
            };
            writes.checkpoint(name[0], &before, event);
            if let Some(reason) = poison {
                tracing::warn!(projection = name[0], position = event.position, %reason, "event dead-lettered");
                dead_letters::write(database, &mut session, name[0], generation, event, reason).await?;
            }
            writes.execute(&mut session).await?;
            Ok(done)
        }
        .await;
        (session, result)
    })
    .await
}
