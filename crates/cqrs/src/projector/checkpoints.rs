//! Per-tenant, per-projection checkpoints (`_projections`) and dead letters (`_dead_letters`).

use std::collections::HashMap;
use std::time::Duration;

use futures::TryStreamExt;
use mongodb::bson::{DateTime, Document, doc};
use mongodb::{ClientSession, Database};
use serde::{Deserialize, Serialize};

use crate::outbox::{StoredEvent, last_position};

pub(crate) const CHECKPOINTS: &str = "_projections";
pub(crate) const DEAD_LETTERS: &str = "_dead_letters";

#[derive(Debug, Serialize, Deserialize)]
struct Checkpoint {
    #[serde(rename = "_id")]
    projection: String,
    position: i64,
    updated_at: DateTime,
}

pub(crate) async fn load(db: &Database) -> mongodb::error::Result<HashMap<String, i64>> {
    let all: Vec<Checkpoint> = db
        .collection::<Checkpoint>(CHECKPOINTS)
        .find(doc! {})
        .await?
        .try_collect()
        .await?;
    Ok(all
        .into_iter()
        .map(|c| (c.projection, c.position))
        .collect())
}

pub(crate) async fn save(
    db: &Database,
    session: &mut ClientSession,
    projection: &str,
    position: i64,
) -> mongodb::error::Result<()> {
    db.collection::<Document>(CHECKPOINTS)
        .update_one(
            doc! {"_id": projection},
            doc! {"$set": {"position": position, "updated_at": DateTime::now()}},
        )
        .upsert(true)
        .session(session)
        .await?;
    Ok(())
}

pub(crate) async fn dead_letter(
    db: &Database,
    session: &mut ClientSession,
    projection: &str,
    event: &StoredEvent,
    error: &str,
) -> mongodb::error::Result<()> {
    let letter = doc! {
        "projection": projection,
        "position": event.position,
        "type": &event.event_type,
        "payload": &event.payload,
        "error": error,
        "at": DateTime::now(),
    };
    db.collection::<Document>(DEAD_LETTERS)
        .insert_one(letter)
        .session(session)
        .await?;
    Ok(())
}

/// The lowest position every one of `projections` has applied (what a reader may rely on).
pub async fn applied_position(db: &Database, projections: &[&str]) -> mongodb::error::Result<i64> {
    let checkpoints = load(db).await?;
    Ok(projections
        .iter()
        .map(|p| checkpoints.get(*p).copied().unwrap_or(0))
        .min()
        .unwrap_or(0))
}

/// Projection health of one tenant: events written, applied, lag, dead letters.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ProjectionStatus {
    pub last_position: i64,
    pub applied_position: i64,
    pub lag: i64,
    pub dead_letters: u64,
}

pub async fn status(
    db: &Database,
    projections: &[&str],
) -> mongodb::error::Result<ProjectionStatus> {
    let last = last_position(db).await?;
    let applied = applied_position(db, projections).await?;
    let dead_letters = db
        .collection::<Document>(DEAD_LETTERS)
        .count_documents(doc! {})
        .await?;
    Ok(ProjectionStatus {
        last_position: last,
        applied_position: applied,
        lag: (last - applied).max(0),
        dead_letters,
    })
}

/// Polls until `projections` have applied `position` or `timeout` passes; `Ok(false)` on timeout.
pub async fn wait_for_position(
    db: &Database,
    projections: &[&str],
    position: i64,
    timeout: Duration,
) -> mongodb::error::Result<bool> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut pause = Duration::from_millis(2);
    loop {
        if applied_position(db, projections).await? >= position {
            return Ok(true);
        }
        if tokio::time::Instant::now() + pause > deadline {
            return Ok(false);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(25));
    }
}
