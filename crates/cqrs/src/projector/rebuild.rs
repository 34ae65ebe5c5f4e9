//! Blue-green rebuilds: a tenant's read models are rebuilt from its outbox into a new
//! generation of collections while queries keep reading the live one; the last batch, once
//! the new generation has caught up, switches the pointer and the checkpoints in its own
//! transaction (see `batch::switch`). A rebuild killed half-way leaves the live read models
//! untouched and its marker expires, so it can simply be started again.

use std::collections::BTreeSet;
use std::sync::Arc;

use mongodb::Database;
use mongodb::bson::{Document, doc};
use tenancy::clusters::TenantDb;
use tenancy::meta::META;
use tenancy::migrations::ensure;

use super::batch::{self, Batch, REBUILD_LEASE, REBUILD_MARKER, Track};
use super::checkpoints;
use super::dead_letters;
use super::projection::{ProjectStored, ProjectionError};
use crate::read_models::{
    Generation, RETIRED_GRACE, collection_name, live_generation, parse_collection_name,
};

/// What a rebuild did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rebuilt {
    pub events: u64,
    pub dead_letters: u64,
    /// The generation queries read now.
    pub generation: Generation,
}

/// Rebuilds one tenant's read models (`db`) from its outbox beside the live ones, then switches.
/// One rebuild per tenant at a time, across every process (`RebuildInProgress` otherwise).
/// Other instances see the new generation when their projector's feed reports the switch (or,
/// at the latest, when their cached pointer expires); the retired one stays readable meanwhile. `Projector::rebuild` also forgets this instance's pointer at once.
pub async fn rebuild_read_models(
    db: &TenantDb,
    projections: &[Arc<dyn ProjectStored>],
) -> Result<Rebuilt, ProjectionError> {
    let database = db.database();
    let current = live_generation(database).await?;
    let next = current + 1;
    let id = uuid::Uuid::now_v7().to_string();
    take_marker(database, &id, next).await?;
    tracing::info!(tenant = %db.key(), generation = next, "rebuild started beside the live read models");
    checkpoints::clear(database, None, checkpoints::SHADOW).await?;
    drop_generations(database, projections, &[current, current.saturating_sub(1)]).await?;
    for projection in projections {
        for spec in projection.read_models() {
            ensure(database, spec, &collection_name(spec.name, next)).await?;
        }
    }
    let track = Track::Shadow {
        id: &id,
        generation: next,
    };
    let mut done = Rebuilt {
        events: 0,
        dead_letters: 0,
        generation: next,
    };
    loop {
        match batch::run(db, projections, track).await {
            Ok(Batch::Applied { events, .. }) => done.events += events,
            Ok(Batch::Switched { .. }) => break,
            Ok(Batch::CaughtUp { .. }) => {
                // The outbox changed under the rebuild (events lost meanwhile): start over.
                return Err(ProjectionError::Stale);
            }
            Err(ProjectionError::Poison(_)) => {
                done.dead_letters += batch::isolate_poison(db, projections, track).await?;
            }
            Err(ProjectionError::Stale) => continue,
            Err(e) => return Err(e),
        }
    }
    tracing::info!(tenant = %db.key(), generation = next, events = done.events, "rebuild switched: queries read the new read models");
    retire_later(database.clone(), projections.to_vec());
    Ok(done)
}

/// Takes the tenant's rebuild marker, unless a rebuild that is still alive holds it.
async fn take_marker(
    db: &Database,
    id: &str,
    generation: Generation,
) -> Result<(), ProjectionError> {
    let fields =
        doc! {"generation": generation as i32, "started_at": mongodb::bson::DateTime::now()};
    let meta = db.collection::<Document>(META);
    if tenancy::fleet::take_lease(&meta, REBUILD_MARKER, id, REBUILD_LEASE, fields).await? {
        Ok(())
    } else {
        Err(ProjectionError::RebuildInProgress)
    }
}

/// Drops the collections and dead letters of every generation but `keep`.
async fn drop_generations(
    db: &Database,
    projections: &[Arc<dyn ProjectStored>],
    keep: &[Generation],
) -> mongodb::error::Result<()> {
    let models: Vec<&'static str> = projections
        .iter()
        .flat_map(|p| p.read_models().iter().map(|m| m.name))
        .collect();
    let mut dropped = BTreeSet::new();
    for name in db.list_collection_names().await? {
        if let Some((_, generation)) = parse_collection_name(&name, models.iter().copied())
            && !keep.contains(&generation)
        {
            db.collection::<Document>(&name).drop().await?;
            dropped.insert(generation);
        }
    }
    dead_letters::retire(db, keep).await?;
    if !dropped.is_empty() {
        tracing::info!(database = %db.name(), generations = ?dropped, "retired read-model generations dropped");
    }
    Ok(())
}

/// After the grace period (longer than any cached pointer lives), every generation but the live
/// one and a rebuild's in progress goes. If this process stops first, the next rebuild drops it.
fn retire_later(db: Database, projections: Vec<Arc<dyn ProjectStored>>) {
    tokio::spawn(async move {
        tokio::time::sleep(RETIRED_GRACE).await;
        let dropped = async {
            let mut keep = vec![live_generation(&db).await?];
            let marker = db
                .collection::<Document>(META)
                .find_one(doc! {"_id": REBUILD_MARKER})
                .await?;
            keep.extend(
                marker
                    .and_then(|m| m.get_i32("generation").ok())
                    .map(|g| g.max(0) as Generation),
            );
            drop_generations(&db, &projections, &keep).await
        };
        if let Err(e) = dropped.await {
            tracing::warn!(database = %db.name(), error = %e, "cannot drop a retired read-model generation");
        }
    });
}

/// Removes every trace of a projection the domain no longer has: its checkpoints (live and a
/// rebuild's) and its `read_models` in every generation. For a migration that replaces a
/// projection with one under a new name, which builds its read models from the first event.
pub async fn retire_projection(
    db: &Database,
    name: &str,
    read_models: &[&str],
) -> mongodb::error::Result<()> {
    checkpoints::forget(db, name).await?;
    for collection in db.list_collection_names().await? {
        if parse_collection_name(&collection, read_models.iter().copied()).is_some() {
            db.collection::<Document>(&collection).drop().await?;
        }
    }
    Ok(())
}
