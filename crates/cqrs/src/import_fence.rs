//! The outbox's import fence: while a tenant's data is imported, its outbox counter is in state
//! `importing`, so no command can pass it (`outbox::reserve` needs a live counter) and the
//! imported sequence of events cannot collide with new ones. One importer acts at a time: it
//! holds the fence with a token and renews its heartbeat per batch; another may take over only
//! once the heartbeat is older than `IMPORT_LEASE` (the first one crashed), and the first one's
//! next renewal then fails, so it stops.

use std::time::Duration;

use mongodb::Database;
use mongodb::bson::{DateTime, Document, doc};
use tenancy::meta::{LIVE, META};

use crate::outbox::OUTBOX_COUNTER;

/// `state` of the outbox counter while an import loads the tenant's data.
pub const IMPORTING: &str = "importing";
/// How long an importer's heartbeat holds the fence against another importer.
pub const IMPORT_LEASE: Duration = Duration::from_secs(30);

/// How an import may begin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportStart {
    /// The tenant had no events: the fence is taken.
    Empty { token: String },
    /// An earlier import was interrupted (its heartbeat expired): the fence is taken over; the
    /// data it left must be cleared first.
    Interrupted { token: String },
    /// The tenant has events: there is nothing to import into.
    NotEmpty,
    /// Another import holds the fence and is alive.
    InProgress,
}

fn lease_start() -> DateTime {
    let lease = i64::try_from(IMPORT_LEASE.as_millis()).unwrap_or(i64::MAX);
    DateTime::from_millis(DateTime::now().timestamp_millis().saturating_sub(lease))
}

/// Takes the import fence of a tenant with no events, or of an interrupted import.
pub async fn begin(db: &Database) -> mongodb::error::Result<ImportStart> {
    let meta = db.collection::<Document>(META);
    let token = uuid::Uuid::now_v7().to_string();
    let take = doc! {"$set": {"state": IMPORTING, "import_token": &token, "import_heartbeat": DateTime::now()}};
    let empty = doc! {"_id": OUTBOX_COUNTER, "state": LIVE, "position": 0_i64};
    if meta.update_one(empty, take.clone()).await?.matched_count == 1 {
        return Ok(ImportStart::Empty { token });
    }
    let expired = doc! {"_id": OUTBOX_COUNTER, "state": IMPORTING, "import_heartbeat": {"$lt": lease_start()}};
    if meta.update_one(expired, take).await?.matched_count == 1 {
        return Ok(ImportStart::Interrupted { token });
    }
    let counter = meta.find_one(doc! {"_id": OUTBOX_COUNTER}).await?;
    Ok(
        match counter.as_ref().and_then(|c| c.get_str("state").ok()) {
            Some(IMPORTING) => ImportStart::InProgress,
            _ => ImportStart::NotEmpty,
        },
    )
}

/// Renews the importer's heartbeat; `false` when another importer took the fence over.
pub async fn renew(db: &Database, token: &str) -> mongodb::error::Result<bool> {
    let held = doc! {"_id": OUTBOX_COUNTER, "state": IMPORTING, "import_token": token};
    let renewed = db
        .collection::<Document>(META)
        .update_one(held, doc! {"$set": {"import_heartbeat": DateTime::now()}})
        .await?;
    Ok(renewed.matched_count == 1)
}

/// Gives the fence up after a failed import, so that the next import may begin at once (it
/// clears what this one loaded); the outbox stays closed to commands until an import succeeds.
pub async fn abandon(db: &Database, token: &str) -> mongodb::error::Result<()> {
    let held = doc! {"_id": OUTBOX_COUNTER, "state": IMPORTING, "import_token": token};
    let expired = doc! {"$set": {"import_heartbeat": DateTime::from_millis(0)}};
    db.collection::<Document>(META)
        .update_one(held, expired)
        .await?;
    Ok(())
}

/// Opens the outbox again after the import, at the imported sequence's last position; `false`
/// when another importer took the fence over.
pub async fn finish(
    db: &Database,
    token: &str,
    last_position: i64,
) -> mongodb::error::Result<bool> {
    let held = doc! {"_id": OUTBOX_COUNTER, "state": IMPORTING, "import_token": token};
    let open = doc! {
        "$set": {"state": LIVE, "position": last_position},
        "$unset": {"import_token": "", "import_heartbeat": ""},
    };
    let opened = db
        .collection::<Document>(META)
        .update_one(held, open)
        .await?;
    Ok(opened.matched_count == 1)
}
