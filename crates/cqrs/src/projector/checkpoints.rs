//! Projection checkpoints: one `_meta` document per track, `checkpoint:*` for the live read
//! models and `rebuild:*` for a rebuild's new generation, holding every projection's progress
//! under `positions.<projection>`. So a batch moves every projection's checkpoint with one write,
//! whatever the number of projections.
//!
//! A checkpoint holds the last position a projection applied and the id of the event there. It is
//! read inside the batch's transaction (with the read models' pointer, which names the generation
//! live checkpoints apply to) and saved by compare-and-set on the positions it was read with, so
//! two writers can never both apply the same events.
//!
//! Tenants from before kept one document per projection (`checkpoint:<projection>`). Those are
//! still read, never written: a projection's progress is the further of the two, so an upgraded
//! tenant goes on where it was; the first batch that moves a projection records it in the
//! shared document. A rebuild's switch and a retired projection remove them.

use std::collections::HashMap;
use std::time::Duration;

use futures::TryStreamExt;
use mongodb::bson::{DateTime, Document, doc};
use mongodb::{ClientSession, Database};
use serde::Serialize;
use tenancy::meta::META;

use super::dead_letters;
use crate::import_fence::IMPORTING;
use crate::outbox::{OUTBOX_COUNTER, last_position};
use crate::read_models::{Generation, POINTER};

pub(crate) const LIVE: &str = "checkpoint:";
pub(crate) const SHADOW: &str = "rebuild:";

/// One projection's progress, as read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Checkpoint {
    pub position: i64,
    /// The id of the event at `position` when it was applied.
    pub event: Option<String>,
    /// The position the track's document holds for the projection (`None`: it has none yet),
    /// the compare of compare-and-set.
    pub recorded: Option<i64>,
}

/// Checkpoints as read together with the live generation.
#[derive(Debug, Clone, Default)]
pub(crate) struct Progress {
    pub checkpoints: HashMap<&'static str, Checkpoint>,
    pub live_generation: Generation,
    /// Whether the track's document exists (a first save inserts it).
    pub recorded: bool,
    /// Whether an import holds the outbox (its events are not the tenant's history yet).
    pub importing: bool,
}

impl Progress {
    /// The lowest position of all (what every projection has applied).
    pub fn lowest(&self) -> i64 {
        self.checkpoints
            .values()
            .map(|c| c.position)
            .min()
            .unwrap_or(0)
    }

    pub fn highest(&self) -> i64 {
        self.checkpoints
            .values()
            .map(|c| c.position)
            .max()
            .unwrap_or(0)
    }

    /// The event ids recorded at `position`.
    pub fn events_at(&self, position: i64) -> impl Iterator<Item = &str> {
        self.checkpoints
            .values()
            .filter(move |c| c.position == position)
            .filter_map(|c| c.event.as_deref())
    }
}

/// The document of one projection's checkpoint, as tenants from before kept it.
pub(crate) fn id(prefix: &str, projection: &str) -> String {
    format!("{prefix}{projection}")
}

/// The document holding every projection's checkpoint of a track.
pub(crate) fn shared_id(prefix: &str) -> String {
    format!("{prefix}*")
}

/// The field of a projection's checkpoint in the track's document.
pub(crate) fn field(projection: &str) -> String {
    format!("positions.{projection}")
}

/// A checkpoint as the track's document holds it.
pub(crate) fn entry(position: i64, event: Option<&str>) -> Document {
    let mut entry = doc! {"position": position};
    if let Some(event) = event {
        entry.insert("event", event);
    }
    entry
}

/// Takes `position` (and the event there) as `name`'s progress if it is further than what is
/// there.
fn further(progress: &mut Progress, name: &'static str, position: i64, event: Option<&str>) {
    let at = progress.checkpoints.entry(name).or_default();
    if position > at.position {
        at.position = position;
        at.event = event.map(String::from);
    }
}

/// The checkpoints of `projections` under `prefix` (missing ones at position 0), the live
/// generation and whether an import holds the outbox, in one read, in the session's
/// transaction when one is given.
pub(crate) async fn load(
    db: &Database,
    session: Option<&mut ClientSession>,
    prefix: &str,
    projections: &[&'static str],
) -> mongodb::error::Result<Progress> {
    let shared = shared_id(prefix);
    let mut ids: Vec<String> = projections.iter().map(|p| id(prefix, p)).collect();
    ids.push(shared.clone());
    ids.push(POINTER.to_string());
    ids.push(OUTBOX_COUNTER.to_string());
    let collection = db.collection::<Document>(META);
    let found = collection.find(doc! {"_id": {"$in": &ids}});
    let docs: Vec<Document> = match session {
        Some(session) => {
            found
                .session(&mut *session)
                .await?
                .stream(session)
                .try_collect()
                .await?
        }
        None => found.await?.try_collect().await?,
    };
    let mut progress = Progress {
        checkpoints: projections
            .iter()
            .map(|p| (*p, Checkpoint::default()))
            .collect(),
        live_generation: 0,
        recorded: false,
        importing: false,
    };
    for d in docs {
        let id = d.get_str("_id").unwrap_or_default();
        if id == OUTBOX_COUNTER {
            progress.importing = d.get_str("state") == Ok(IMPORTING);
        } else if id == POINTER {
            progress.live_generation = d
                .get_i32("generation")
                .map_or(0, |g| g.max(0) as Generation);
        } else if id == shared {
            progress.recorded = true;
            let positions = d.get_document("positions").ok();
            for name in projections {
                let Some(at) = positions.and_then(|p| p.get_document(name).ok()) else {
                    continue;
                };
                let position = at.get_i64("position").unwrap_or(0);
                further(&mut progress, name, position, at.get_str("event").ok());
                if let Some(checkpoint) = progress.checkpoints.get_mut(name) {
                    checkpoint.recorded = Some(position);
                }
            }
        } else if let Some(name) = id
            .strip_prefix(prefix)
            .and_then(|n| projections.iter().find(|p| **p == n))
        {
            let position = d.get_i64("position").unwrap_or(0);
            further(&mut progress, name, position, d.get_str("event").ok());
        }
    }
    Ok(progress)
}

/// Replaces a track's checkpoints outright (a rebuild's switch), in the session's transaction.
pub(crate) async fn replace(
    db: &Database,
    session: &mut ClientSession,
    prefix: &str,
    checkpoints: &[(&str, Checkpoint)],
) -> mongodb::error::Result<()> {
    clear(db, Some(&mut *session), prefix).await?;
    let positions: Document = checkpoints
        .iter()
        .map(|(name, at)| {
            let entry = entry(at.position, at.event.as_deref());
            (name.to_string(), entry.into())
        })
        .collect();
    let document = doc! {"positions": positions, "updated_at": DateTime::now()};
    db.collection::<Document>(META)
        .replace_one(doc! {"_id": shared_id(prefix)}, document)
        .upsert(true)
        .session(session)
        .await?;
    Ok(())
}

/// Forgets a projection's checkpoints on every track (a retired projection's).
pub(crate) async fn forget(db: &Database, projection: &str) -> mongodb::error::Result<()> {
    let meta = db.collection::<Document>(META);
    let own = [id(LIVE, projection), id(SHADOW, projection)];
    meta.delete_many(doc! {"_id": {"$in": own.to_vec()}})
        .await?;
    let shared = [shared_id(LIVE), shared_id(SHADOW)];
    meta.update_many(
        doc! {"_id": {"$in": shared.to_vec()}},
        doc! {"$unset": {field(projection): ""}},
    )
    .await?;
    Ok(())
}

/// Removes every checkpoint under `prefix`.
pub(crate) async fn clear(
    db: &Database,
    session: Option<&mut ClientSession>,
    prefix: &str,
) -> mongodb::error::Result<()> {
    let meta = db.collection::<Document>(META);
    let action = meta.delete_many(doc! {"_id": {"$regex": format!("^{prefix}")}});
    match session {
        Some(session) => action.session(session).await?,
        None => action.await?,
    };
    Ok(())
}

/// The lowest position every one of `projections` has applied, and the generation it is in.
async fn applied(
    db: &Database,
    projections: &[&'static str],
) -> mongodb::error::Result<(i64, Generation)> {
    let progress = load(db, None, LIVE, projections).await?;
    Ok((progress.lowest(), progress.live_generation))
}

/// Projection health of one tenant: events written, applied, lag, dead letters.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct ProjectionStatus {
    pub last_position: i64,
    pub applied_position: i64,
    pub lag: i64,
    pub dead_letters: u64,
    /// The generation of read models queries read (a rebuild makes a new one).
    pub generation: Generation,
}

pub async fn status(
    db: &Database,
    projections: &[&'static str],
) -> mongodb::error::Result<ProjectionStatus> {
    let last = last_position(db).await?;
    let (applied, generation) = applied(db, projections).await?;
    let dead_letters = dead_letters::count(db, generation).await?;
    Ok(ProjectionStatus {
        last_position: last,
        applied_position: applied,
        lag: (last - applied).max(0),
        dead_letters,
        generation,
    })
}

/// Polls until `projections` have applied `position`, then gives the generation they applied it
/// to; `None` if `timeout` passes first.
pub async fn wait_for_position(
    db: &Database,
    projections: &[&'static str],
    position: i64,
    timeout: Duration,
) -> mongodb::error::Result<Option<Generation>> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut pause = Duration::from_millis(2);
    loop {
        let (applied, generation) = applied(db, projections).await?;
        if applied >= position {
            return Ok(Some(generation));
        }
        if tokio::time::Instant::now() + pause > deadline {
            return Ok(None);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(25));
    }
}
