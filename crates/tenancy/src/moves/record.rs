//! The move record: one document per tenant incarnation in the catalog's `moves` collection
//! (`_id` = `<id>@<incarnation>`, so nothing of a deleted incarnation's move reaches a later
//! one). It is the move's state machine. Every write by the process running the move is fenced
//! by the runner's token: a runner that was presumed dead and replaced finds its next write
//! refused, and stops.

use mongodb::bson::{DateTime, Document, doc};
use mongodb::options::ReturnDocument;
use mongodb::{Collection, Database};
use serde::{Deserialize, Serialize};

use crate::error::{Result, TenancyError, is_duplicate_key};
use crate::{Tenant, TenantKey, TenantStatus};

/// The catalog collection of move records.
pub const MOVES: &str = "moves";

/// Where a move is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MoveState {
    /// The collections are copied to the target cluster; the source serves.
    Copying,
    /// Changes made since the copy began are applied to the target; the source serves.
    CatchingUp,
    /// The tenant's writes wait while the last changes are applied, the copy verified and the
    /// placement switched.
    CuttingOver,
    /// The tenant is served from the target cluster.
    Done,
    /// The move stopped; the tenant is served from the source cluster, as before.
    Failed,
}

impl MoveState {
    pub fn as_str(self) -> &'static str {
        match self {
            MoveState::Copying => "copying",
            MoveState::CatchingUp => "catching_up",
            MoveState::CuttingOver => "cutting_over",
            MoveState::Done => "done",
            MoveState::Failed => "failed",
        }
    }

    pub fn is_finished(self) -> bool {
        matches!(self, MoveState::Done | MoveState::Failed)
    }
}

/// A tenant's current or last move.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MoveRecord {
    /// `<id>@<incarnation>`.
    #[serde(rename = "_id")]
    pub key: String,
    pub tenant_id: String,
    /// The tenant database's name (the same on both clusters).
    pub database: String,
    pub from: String,
    pub to: String,
    pub state: MoveState,
    pub documents_copied: i64,
    pub started_at: DateTime,
    #[serde(default)]
    pub finished_at: Option<DateTime>,
    /// How long the tenant's writes were held at the cut-over.
    #[serde(default)]
    pub write_pause_ms: Option<i64>,
    #[serde(default)]
    pub error: Option<String>,
    /// The token of the runner allowed to write this record.
    pub token: String,
    /// The runner's last sign of life: a runner silent for a lease time is presumed dead, and
    /// another may take the move over.
    pub heartbeat: DateTime,
    /// How many runners have taken it (more than one: it was resumed after a crash).
    pub attempts: i32,
    /// When the source database may be dropped (a done move).
    #[serde(default)]
    pub drop_source_after: Option<DateTime>,
    #[serde(default)]
    pub source_dropped_at: Option<DateTime>,
}

impl MoveRecord {
    /// Whether it still holds something: a running move, or a done one whose source database
    /// is kept for its grace period.
    pub fn is_open(&self) -> bool {
        !self.state.is_finished()
            || (self.state == MoveState::Done && self.source_dropped_at.is_none())
    }
}

fn collection(catalog: &Database) -> Collection<MoveRecord> {
    catalog.collection(MOVES)
}

fn new_token() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Records a new move of `tenant` to `to`; `None` when one is open (running, or its source
/// not yet dropped).
pub async fn begin(catalog: &Database, tenant: &Tenant, to: &str) -> Result<Option<MoveRecord>> {
    let record = MoveRecord {
        key: tenant.key().to_string(),
        tenant_id: tenant.id.to_string(),
        database: tenant.database.clone(),
        from: tenant.cluster.clone(),
        to: to.to_string(),
        state: MoveState::Copying,
        documents_copied: 0,
        started_at: DateTime::now(),
        finished_at: None,
        write_pause_ms: None,
        error: None,
        token: new_token(),
        heartbeat: DateTime::now(),
        attempts: 0,
        drop_source_after: None,
        source_dropped_at: None,
    };
    let moves = collection(catalog);
    match moves.insert_one(&record).await {
        Ok(_) => return Ok(Some(record)),
        Err(e) if is_duplicate_key(&e) => {}
        Err(e) => return Err(e.into()),
    }
    // The last move is over (failed, or done with its source dropped): this one replaces it.
    let replaced = moves.replace_one(over(&record.key), &record).await?;
    Ok((replaced.matched_count == 1).then_some(record))
}

/// The filter of records whose move is over: failed, or done with its source dropped (the
/// opposite of `MoveRecord::is_open`).
fn over_filter() -> Document {
    doc! {"$or": [
        {"state": MoveState::Failed.as_str()},
        {"state": MoveState::Done.as_str(), "source_dropped_at": {"$ne": null}},
    ]}
}

/// `over_filter` for `key`'s record.
fn over(key: &str) -> Document {
    let mut filter = over_filter();
    filter.insert("_id", key);
    filter
}

/// Removes `key`'s record if its move is over; `false` when there is none, or it still holds
/// something.
pub async fn remove_if_over(catalog: &Database, key: &str) -> Result<bool> {
    let removed = collection(catalog).delete_one(over(key)).await?;
    Ok(removed.deleted_count == 1)
}

/// Removes the record if `record.token` still runs it (a runner whose tenant is gone);
/// `false` when another runner took over.
pub async fn remove(catalog: &Database, record: &MoveRecord) -> Result<bool> {
    let removed = collection(catalog)
        .delete_one(doc! {"_id": &record.key, "token": &record.token})
        .await?;
    Ok(removed.deleted_count == 1)
}

/// The keys of the records whose moves are over.
pub async fn over_keys(catalog: &Database) -> Result<Vec<String>> {
    use futures::TryStreamExt;
    let records: Vec<Document> = collection(catalog)
        .clone_with_type::<Document>()
        .find(over_filter())
        .projection(doc! {"_id": 1})
        .await?
        .try_collect()
        .await?;
    Ok(records
        .iter()
        .filter_map(|r| r.get_str("_id").ok().map(str::to_string))
        .collect())
}

pub async fn load(catalog: &Database, key: &TenantKey) -> Result<Option<MoveRecord>> {
    Ok(collection(catalog)
        .find_one(doc! {"_id": key.to_string()})
        .await?)
}

/// The records of moves that are running, or done with a source still to drop.
pub async fn open(catalog: &Database) -> Result<Vec<MoveRecord>> {
    use futures::TryStreamExt;
    let filter = doc! {"$or": [
        {"state": {"$in": [MoveState::Copying.as_str(), MoveState::CatchingUp.as_str(), MoveState::CuttingOver.as_str()]}},
        {"state": MoveState::Done.as_str(), "source_dropped_at": null},
    ]};
    Ok(collection(catalog)
        .find(filter)
        .await?
        .try_collect()
        .await?)
}

/// Makes this process the move's runner, if the record still has the token `seen` (and, for a
/// take-over, its runner has been silent since `silent_since`): a new token, so the previous
/// runner's writes fail. `None` when another runner got there first (or is alive).
pub async fn take(
    catalog: &Database,
    key: &str,
    seen: &str,
    silent_since: Option<DateTime>,
) -> Result<Option<MoveRecord>> {
    let mut filter = doc! {"_id": key, "token": seen};
    if let Some(since) = silent_since {
        filter.insert("heartbeat", doc! {"$lt": since});
    }
    let update = doc! {
        "$set": {"token": new_token(), "heartbeat": DateTime::now()},
        "$inc": {"attempts": 1},
    };
    Ok(collection(catalog)
        .find_one_and_update(filter, update)
        .return_document(ReturnDocument::After)
        .await?)
}

/// The runner's sign of life; `false` when another runner took over.
pub async fn beat(catalog: &Database, record: &MoveRecord) -> Result<bool> {
    update(catalog, record, doc! {"heartbeat": DateTime::now()}).await
}

/// Sets fields of the record if `token` still runs it; `false` when another runner took over.
pub async fn update(catalog: &Database, record: &MoveRecord, set: Document) -> Result<bool> {
    let updated = collection(catalog)
        .update_one(
            doc! {"_id": &record.key, "token": &record.token},
            doc! {"$set": set},
        )
        .await?;
    Ok(updated.matched_count == 1)
}

/// Enters `state`; `false` when another runner took over.
pub async fn enter(catalog: &Database, record: &mut MoveRecord, state: MoveState) -> Result<bool> {
    record.state = state;
    update(catalog, record, doc! {"state": state.as_str()}).await
}

/// Ends the move as failed (the source serves), with why.
pub async fn fail(catalog: &Database, record: &MoveRecord, error: &str) -> Result<bool> {
    let set = doc! {
        "state": MoveState::Failed.as_str(),
        "error": error,
        "finished_at": DateTime::now(),
    };
    update(catalog, record, set).await
}

/// The switch, in one catalog transaction: the tenant's placement becomes the target (only if
/// this incarnation is still on the source and live) and the move is done. `false` when either
/// did not match (the tenant is being deleted, or another runner took over): nothing changed.
/// A write conflict (the runner's own heartbeat writes the record) runs it again.
pub async fn switch(
    catalog: &Database,
    record: &MoveRecord,
    key: &TenantKey,
    write_pause_ms: i64,
    drop_source_after: DateTime,
) -> Result<bool> {
    let started = std::time::Instant::now();
    crate::transaction::retry(|| async {
        let mut session = catalog.client().start_session().await?;
        session.start_transaction().await?;
        let placed = catalog
            .collection::<Document>(crate::catalog::TENANTS)
            .update_one(
                doc! {
                    "_id": key.id.as_str(),
                    "incarnation": key.incarnation.as_str(),
                    "cluster": &record.from,
                    "status": {"$in": [TenantStatus::Active.as_str(), TenantStatus::Suspended.as_str()]},
                },
                doc! {"$set": {"cluster": &record.to, "updated_at": DateTime::now()}},
            )
            .session(&mut session)
            .await?;
        crate::failpoint::delay("move.switching").await;
        let done = collection(catalog)
            .update_one(
                doc! {"_id": &record.key, "token": &record.token},
                doc! {"$set": {
                    "state": MoveState::Done.as_str(),
                    "finished_at": DateTime::now(),
                    "write_pause_ms": write_pause_ms,
                    "drop_source_after": drop_source_after,
                }},
            )
            .session(&mut session)
            .await?;
        if placed.matched_count == 1 && done.matched_count == 1 {
            crate::transaction::commit::<TenancyError>(&mut session, started).await?;
            // A test's stand-in for a commit whose answer is lost.
            if crate::failpoint::fails("move.switch_answer_lost") {
                return Err(crate::transaction::Abandoned::CommitUnknown {
                    elapsed: started.elapsed(),
                }
                .into());
            }
            Ok(true)
        } else {
            session.abort_transaction().await?;
            Ok(false)
        }
    })
    .await
}

/// Records that the source database is gone.
pub async fn source_dropped(catalog: &Database, key: &str) -> Result<()> {
    collection(catalog)
        .update_one(
            doc! {"_id": key},
            doc! {"$set": {"source_dropped_at": DateTime::now()}},
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::to_bson;

    fn record(state: MoveState, dropped: bool) -> MoveRecord {
        MoveRecord {
            key: "acme@0123456789ab".into(),
            tenant_id: "acme".into(),
            database: "t_acme".into(),
            from: "default".into(),
            to: "eu".into(),
            state,
            documents_copied: 0,
            started_at: DateTime::now(),
            finished_at: None,
            write_pause_ms: None,
            error: None,
            token: new_token(),
            heartbeat: DateTime::now(),
            attempts: 1,
            drop_source_after: None,
            source_dropped_at: dropped.then(DateTime::now),
        }
    }

    #[test]
    fn a_move_is_open_while_it_runs_and_until_its_source_is_dropped() {
        for state in [
            MoveState::Copying,
            MoveState::CatchingUp,
            MoveState::CuttingOver,
        ] {
            assert!(record(state, false).is_open());
            assert!(!state.is_finished());
        }
        assert!(record(MoveState::Done, false).is_open());
        assert!(!record(MoveState::Done, true).is_open());
        assert!(!record(MoveState::Failed, false).is_open());
    }

    #[test]
    fn states_are_stored_by_their_api_names() {
        for state in [
            MoveState::Copying,
            MoveState::CatchingUp,
            MoveState::CuttingOver,
            MoveState::Done,
            MoveState::Failed,
        ] {
            assert_eq!(to_bson(&state).ok(), Some(state.as_str().into()));
        }
        assert_eq!(MoveState::CatchingUp.as_str(), "catching_up");
    }
}
