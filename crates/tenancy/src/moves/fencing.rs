//! Fencing a move's runners on the source database.
//!
//! A runner presumed dead may wake up after another instance took its move over. The move
//! record's token stops its catalog writes, but the source's fences live in the tenant's own
//! database, on another cluster: a woken runner could still hold the source's writes (flip its
//! fences to `moving`) or reopen them in the middle of the new runner's cut-over, and writes
//! committed there after the new runner's last round would be lost with the source.
//!
//! So the source carries the move's epoch, a `_meta` document per move raised to each runner's
//! attempt number (the record's `attempts`, incremented by every take-over). A runner flips the
//! source's fences only in a transaction that finds the epoch still at its own attempt: once a
//! newer runner has raised it, an older one's flips change nothing and it stops.

use mongodb::bson::{Document, doc};

use super::record::MoveRecord;
use crate::clusters::TenantDb;
use crate::error::TenancyError;
use crate::meta::{self, META};
use crate::transaction;

/// Flips the source's fences from `from` to `to` if this runner still holds the move's epoch
/// (raising it to its attempt first); `None` when a newer runner holds it.
pub(super) async fn flip_source(
    source: &TenantDb,
    move_: &MoveRecord,
    from: &str,
    to: &str,
) -> Result<Option<u64>, TenancyError> {
    let db = source.database();
    let epochs = db.collection::<Document>(META);
    let epoch = format!("move_epoch:{}", move_.started_at.timestamp_millis());
    epochs
        .update_one(
            doc! {"_id": &epoch},
            doc! {"$max": {"attempt": move_.attempts}},
        )
        .upsert(true)
        .await?;
    let (epochs, epoch) = (&epochs, &epoch);
    transaction::run(source, |mut session| async move {
        let flipped = async {
            // The update must really write (`$inc`), so that it conflicts with a newer
            // runner's raise of the epoch instead of passing unseen.
            let held = epochs
                .update_one(
                    doc! {"_id": epoch, "attempt": move_.attempts},
                    doc! {"$inc": {"flips": 1}},
                )
                .session(&mut session)
                .await?;
            if held.matched_count == 0 {
                return Ok(None);
            }
            let flipped = meta::flip_fences(db, Some(&mut session), from, to).await?;
            Ok(Some(flipped))
        }
        .await;
        (session, flipped)
    })
    .await
}
