//! Projection checkpoints (`_meta` documents `checkpoint:<projection>`, and `rebuild:<projection>`
//! for a rebuild's new generation).
//!
//! A checkpoint holds the last position a projection applied. It is read inside the batch's
//! transaction (with the read models' pointer, which names the generation live checkpoints
//! apply to) and saved by compare-and-set on the position it was read with, so two writers can
//! never both apply the same events.

use std::collections::HashMap;
use std::time::Duration;

use futures::TryStreamExt;
use mongodb::bson::{DateTime, Document, doc};
use mongodb::{ClientSession, Database};
use serde::Serialize;
use tenancy::meta::META;

use super::dead_letters;
use crate::outbox::last_position;
use crate::read_models::{Generation, POINTER};

pub(crate) const LIVE: &str = "checkpoint:";
pub(crate) const SHADOW: &str = "rebuild:";

/// One projection's progress, as read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Checkpoint {
    pub position: i64,
    /// The id of the event at `position` when it was applied.
    pub event: Option<String>,
    /// Whether the document exists (a first save inserts it).
    pub exists: bool,
}

/// Checkpoints as read together with the live generation.
#[derive(Debug, Clone, Default)]
pub(crate) struct Progress {
    pub checkpoints: HashMap<&'static str, Checkpoint>,
    pub live_generation: Generation,
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

pub(crate) fn id(prefix: &str, projection: &str) -> String {
    format!("{prefix}{projection}")
}

/// The checkpoints of `projections` under `prefix` (missing ones at position 0) and the live
/// generation, in one read, in the session's transaction when one is given.
pub(crate) async fn load(
    db: &Database,
    session: Option<&mut ClientSession>,
    prefix: &str,
    projections: &[&'static str],
) -> mongodb::error::Result<Progress> {
    let mut ids: Vec<String> = projections.iter().map(|p| id(prefix, p)).collect();
    ids.push(POINTER.to_string());
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
    };
    for d in docs {
        if d.get_str("_id") == Ok(POINTER) {
            progress.live_generation = d
                .get_i32("generation")
                .map_or(0, |g| g.max(0) as Generation);
            continue;
        }
        let Some(name) = d
            .get_str("_id")
            .ok()
            .and_then(|i| i.strip_prefix(prefix))
            .and_then(|n| projections.iter().find(|p| **p == n))
        else {
            continue;
        };
        progress.checkpoints.insert(
            name,
            Checkpoint {
                position: d.get_i64("position").unwrap_or(0),
                event: d.get_str("event").ok().map(String::from),
                exists: true,
            },
        );
    }
    Ok(progress)
}

/// Sets a checkpoint outright (a rebuild's switch), in the session's transaction.
pub(crate) async fn set(
    db: &Database,
    session: &mut ClientSession,
    prefix: &str,
    projection: &str,
    at: &Checkpoint,
) -> mongodb::error::Result<()> {
    let mut fields = doc! {"position": at.position, "updated_at": DateTime::now()};
    if let Some(event) = &at.event {
        fields.insert("event", event);
    }
    db.collection::<Document>(META)
        .replace_one(doc! {"_id": id(prefix, projection)}, fields)
        .upsert(true)
        .session(session)
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
