//! Bringing one tenant's read models up to date with its outbox.
//!
//! Events are read once per batch from the lowest checkpoint. A batch is applied to every
//! projection behind it, with the checkpoints, in one transaction: a crash leaves either all of
//! it or none, so re-delivery changes nothing. If the batch hits a poison event, the batch is
//! replayed event by event and the poison event is dead-lettered (with its checkpoint advanced),
//! so the projection moves on and the rest of the tenant's events keep flowing.

use std::collections::HashMap;
use std::sync::Arc;

use futures::TryStreamExt;
use mongodb::bson::doc;
use mongodb::{Client, Database};

use super::Projection;
use super::checkpoints;
use super::projection::ProjectionError;
use crate::outbox::{OUTBOX, StoredEvent};
use crate::transaction;

const BATCH: i64 = 200;

/// What one catch-up did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CatchUp {
    pub events: u64,
    pub dead_letters: u64,
    /// When the last event applied was written (for the projection-delay gauge).
    pub last_event_at: Option<mongodb::bson::DateTime>,
}

pub(crate) async fn catch_up(
    client: &Client,
    db: &Database,
    projections: &[Arc<dyn Projection>],
) -> Result<CatchUp, ProjectionError> {
    let mut positions = checkpoints::load(db).await?;
    let mut done = CatchUp::default();
    loop {
        let from = projections
            .iter()
            .map(|p| position(&positions, p.name()))
            .min()
            .unwrap_or(0);
        let events: Vec<StoredEvent> = db
            .collection::<StoredEvent>(OUTBOX)
            .find(doc! {"_id": {"$gt": from}})
            .sort(doc! {"_id": 1})
            .limit(BATCH)
            .await?
            .try_collect()
            .await?;
        let Some(last) = events.last().map(|e| e.position) else {
            return Ok(done);
        };
        done.last_event_at = events.last().map(|e| e.occurred_at);
        match apply_batch(client, db, projections, &positions, &events).await {
            Ok(()) => {
                for p in projections {
                    positions.insert(
                        p.name().to_string(),
                        last.max(position(&positions, p.name())),
                    );
                }
                done.events += events.len() as u64;
            }
            Err(ProjectionError::Poison(_)) => {
                done.dead_letters +=
                    apply_one_by_one(client, db, projections, &mut positions, &events).await?;
                done.events += events.len() as u64;
            }
            Err(e) => return Err(e),
        }
    }
}

fn position(positions: &HashMap<String, i64>, name: &str) -> i64 {
    positions.get(name).copied().unwrap_or(0)
}

async fn apply_batch(
    client: &Client,
    db: &Database,
    projections: &[Arc<dyn Projection>],
    positions: &HashMap<String, i64>,
    events: &[StoredEvent],
) -> Result<(), ProjectionError> {
    transaction::run(client, |mut session| async move {
        let result = async {
            for projection in projections {
                let behind = position(positions, projection.name());
                let pending: Vec<&StoredEvent> =
                    events.iter().filter(|e| e.position > behind).collect();
                let Some(last) = pending.last().map(|e| e.position) else {
                    continue;
                };
                for event in pending {
                    projection.apply(db, &mut session, event).await?;
                }
                checkpoints::save(db, &mut session, projection.name(), last).await?;
            }
            Ok(())
        }
        .await;
        (session, result)
    })
    .await
}

/// Applies events one at a time per projection; returns how many were dead-lettered.
async fn apply_one_by_one(
    client: &Client,
    db: &Database,
    projections: &[Arc<dyn Projection>],
    positions: &mut HashMap<String, i64>,
    events: &[StoredEvent],
) -> Result<u64, ProjectionError> {
    let mut dead = 0;
    for projection in projections {
        let name = projection.name();
        let behind = position(positions, name);
        for event in events.iter().filter(|e| e.position > behind) {
            let applied = transaction::run(client, |mut session| async move {
                let result = async {
                    projection.apply(db, &mut session, event).await?;
                    checkpoints::save(db, &mut session, name, event.position).await?;
                    Ok(())
                }
                .await;
                (session, result)
            })
            .await;
            match applied {
                Ok(()) => {}
                Err(ProjectionError::Poison(reason)) => {
                    tracing::warn!(projection = name, position = event.position, %reason, "event dead-lettered");
                    transaction::run(client, |mut session| {
                        let reason = reason.clone();
                        async move {
                            let result = async {
                                checkpoints::dead_letter(db, &mut session, name, event, &reason)
                                    .await?;
                                checkpoints::save(db, &mut session, name, event.position).await
                            }
                            .await;
                            (session, result)
                        }
                    })
                    .await?;
                    dead += 1;
                }
                Err(e) => return Err(e),
            }
            positions.insert(name.to_string(), event.position);
        }
    }
    Ok(dead)
}
