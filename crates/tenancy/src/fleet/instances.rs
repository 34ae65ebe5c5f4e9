//! The instance registry (`instances` in the catalog database): one record per running server,
//! kept alive by heartbeats that set `expires_at` on the database's clock (`$$NOW`), so clock
//! skew between hosts does not matter. A record whose `expires_at` has passed belongs to a dead
//! instance: survivors end its sessions and remove it.

use std::sync::OnceLock;
use std::time::Duration;

use futures::TryStreamExt;
use mongodb::Collection;
use mongodb::bson::{Binary, DateTime, Document, doc};
use serde::Deserialize;

pub(crate) const INSTANCES: &str = "instances";

/// What the catalog says of an instance.
#[derive(Debug, Clone, Deserialize)]
pub struct InstanceRecord {
    #[serde(rename = "_id")]
    pub id: String,
    pub version: String,
    pub host: String,
    pub pid: i64,
    /// Random per process: tells instances of one process (tests) from a restarted process.
    pub process: String,
    pub started_at: DateTime,
    pub heartbeat_at: DateTime,
    pub expires_at: DateTime,
    /// Whether it runs a projector (only those take projection partitions).
    #[serde(default)]
    pub projects: bool,
    #[serde(default)]
    pub sessions: Vec<Binary>,
}

/// This process's identity: host name, pid and a random token.
pub(crate) struct ProcessIdentity {
    pub host: String,
    pub pid: u32,
    pub process: String,
}

pub(crate) fn this_process() -> &'static ProcessIdentity {
    static IDENTITY: OnceLock<ProcessIdentity> = OnceLock::new();
    IDENTITY.get_or_init(|| ProcessIdentity {
        // `HOSTNAME` first: containers set it to the pod or container name.
        host: std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.trim().is_empty())
            .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
            .map_or_else(|| "unknown".to_string(), |h| h.trim().to_string()),
        pid: std::process::id(),
        process: uuid::Uuid::new_v4().simple().to_string(),
    })
}

impl InstanceRecord {
    /// Dead for certain although not yet expired: it ran on this host in another process whose
    /// pid is gone, or whose pid is now ours (a restarted container). Lets a restarted server
    /// end its predecessor's transactions at once instead of after the lease time.
    pub(crate) fn is_dead_on_this_host(&self) -> bool {
        let me = this_process();
        if self.host != me.host || self.process == me.process {
            return false;
        }
        self.pid == i64::from(me.pid)
            || !std::path::Path::new(&format!("/proc/{}", self.pid)).exists()
    }
}

/// `$$NOW + ttl`, on the database's clock (an aggregation expression for pipeline updates).
pub fn expiry(ttl: Duration) -> Document {
    doc! {"$dateAdd": {"startDate": "$$NOW", "unit": "millisecond", "amount": ttl.as_millis() as i64}}
}

/// Matches documents whose `expires_at` has passed (database clock).
pub(crate) fn expired() -> Document {
    doc! {"$expr": {"$lte": ["$expires_at", "$$NOW"]}}
}

/// Creates or refreshes this instance's record; `Ok(true)` when it had to be created (first
/// heartbeat, or the record was removed because others took this instance for dead).
pub(crate) async fn heartbeat(
    instances: &Collection<Document>,
    id: &str,
    settings: &super::FleetSettings,
) -> mongodb::error::Result<bool> {
    let me = this_process();
    let ttl = settings.lease;
    let set = doc! {"$set": {
        "version": &settings.version,
        "projects": settings.projects,
        "host": &me.host,
        "pid": i64::from(me.pid),
        "process": &me.process,
        "started_at": {"$ifNull": ["$started_at", "$$NOW"]},
        "sessions": {"$ifNull": ["$sessions", []]},
        "heartbeat_at": "$$NOW",
        "expires_at": expiry(ttl),
    }};
    let result = instances
        .update_one(doc! {"_id": id}, vec![set])
        .upsert(true)
        .await?;
    Ok(result.upserted_id.is_some())
}

/// Every record, live or not.
pub(crate) async fn all(
    instances: &Collection<Document>,
) -> mongodb::error::Result<Vec<(InstanceRecord, bool)>> {
    let pipeline = [doc! {"$addFields": {"live": {"$gt": ["$expires_at", "$$NOW"]}}}];
    let docs: Vec<Document> = instances.aggregate(pipeline).await?.try_collect().await?;
    Ok(docs
        .into_iter()
        .filter_map(|d| {
            let live = d.get_bool("live").unwrap_or(false);
            mongodb::bson::from_document::<InstanceRecord>(d)
                .ok()
                .map(|r| (r, live))
        })
        .collect())
}

/// Removes a dead instance's record, unless it came back since (`expires_at` moved).
pub(crate) async fn remove_dead(
    instances: &Collection<Document>,
    record: &InstanceRecord,
) -> mongodb::error::Result<bool> {
    let gone = instances
        .delete_one(doc! {"_id": &record.id, "expires_at": record.expires_at})
        .await?;
    Ok(gone.deleted_count == 1)
}

pub(crate) async fn remove(
    instances: &Collection<Document>,
    id: &str,
) -> mongodb::error::Result<()> {
    instances.delete_one(doc! {"_id": id}).await?;
    Ok(())
}
