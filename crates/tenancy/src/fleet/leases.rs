//! The lease table (`leases` in the catalog database).
//!
//! - `p/<n>`: one document per partition (`owner`, `token`, `expires_at`), created once.
//! - `job/<name>`: the lease of a one-actor job (finishing a tenant's deletion), created on
//!   acquisition and deleted when the job ends.
//! - `token`: the fencing-token counter. Every acquisition takes a new, larger token from it,
//!   so tokens grow across all leases and a later holder always has the larger one.
//!
//! Expiry is on the database's clock; a holder renews all its leases at once with every
//! heartbeat (one `updateMany`), so the cost per heartbeat does not grow with tenants.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::TryStreamExt;
use mongodb::Collection;
use mongodb::bson::{DateTime, Document, doc};
use mongodb::options::ReturnDocument;

use super::instances::{expired, expiry};
use super::partition::{PARTITIONS, Partition};
use crate::error::is_duplicate_key;

pub(crate) const LEASES: &str = "leases";
const KIND_PARTITION: &str = "partition";

fn partition_id(p: Partition) -> String {
    format!("p/{p:03}")
}

/// A partition lease as read from the table.
#[derive(Debug, Clone)]
pub(crate) struct PartitionLease {
    pub partition: Partition,
    pub owner: Option<String>,
    pub token: i64,
    /// Not expired (database clock).
    pub valid: bool,
}

/// Creates the partition documents that do not exist yet.
pub(crate) async fn ensure_partitions(leases: &Collection<Document>) -> mongodb::error::Result<()> {
    let existing = leases
        .count_documents(doc! {"kind": KIND_PARTITION})
        .await?;
    if existing >= u64::from(PARTITIONS) {
        return Ok(());
    }
    let docs = (0..PARTITIONS).map(|p| {
        doc! {"_id": partition_id(p), "kind": KIND_PARTITION, "partition": i32::from(p),
        "owner": null, "token": 0_i64, "expires_at": DateTime::from_millis(0)}
    });
    match leases.insert_many(docs).ordered(false).await {
        Err(e) if !is_duplicate_key(&e) => Err(e),
        _ => Ok(()),
    }
}

/// A new fencing token, larger than every token handed out before.
pub(crate) async fn next_token(leases: &Collection<Document>) -> mongodb::error::Result<i64> {
    let counter = leases
        .find_one_and_update(doc! {"_id": "token"}, doc! {"$inc": {"value": 1_i64}})
        .upsert(true)
        .return_document(ReturnDocument::After)
        .await?;
    Ok(counter.and_then(|c| c.get_i64("value").ok()).unwrap_or(1))
}

/// Extends every lease `owner` holds (partitions and jobs).
pub(crate) async fn renew_all(
    leases: &Collection<Document>,
    owner: &str,
    ttl: Duration,
) -> mongodb::error::Result<()> {
    let update = vec![doc! {"$set": {"expires_at": expiry(ttl)}}];
    leases.update_many(doc! {"owner": owner}, update).await?;
    Ok(())
}

/// Every partition lease, in one batch: one round trip, and no open cursor between batches for
/// a peer to end (it ends an instance's sessions when it takes it for dead, see `sessions`).
pub(crate) async fn partitions(
    leases: &Collection<Document>,
) -> mongodb::error::Result<Vec<PartitionLease>> {
    let pipeline = [
        doc! {"$match": {"kind": KIND_PARTITION}},
        doc! {"$project": {"partition": 1, "owner": 1, "token": 1, "valid": {"$gt": ["$expires_at", "$$NOW"]}}},
    ];
    // One more than there are: a batch that comes up short closes the cursor.
    let all = u32::from(PARTITIONS) + 1;
    let docs: Vec<Document> = leases
        .aggregate(pipeline)
        .batch_size(all)
        .await?
        .try_collect()
        .await?;
    Ok(docs
        .iter()
        .filter_map(|d| {
            Some(PartitionLease {
                partition: Partition::try_from(d.get_i32("partition").ok()?).ok()?,
                owner: d.get_str("owner").ok().map(String::from),
                token: d.get_i64("token").unwrap_or(0),
                valid: d.get_bool("valid").unwrap_or(false),
            })
        })
        .collect())
}

/// Takes the partitions in `wanted` that are free (no owner, or expired) for `owner`, all with
/// one new token (read the table again to see what was taken).
pub(crate) async fn acquire(
    leases: &Collection<Document>,
    owner: &str,
    wanted: &[Partition],
    ttl: Duration,
) -> mongodb::error::Result<()> {
    if wanted.is_empty() {
        return Ok(());
    }
    let token = next_token(leases).await?;
    let ids: Vec<String> = wanted.iter().map(|p| partition_id(*p)).collect();
    let filter = doc! {"_id": {"$in": ids}, "$or": [{"owner": null}, expired()]};
    let update = vec![
        doc! {"$set": {"owner": owner, "token": token, "expires_at": expiry(ttl), "acquired_at": "$$NOW"}},
    ];
    leases.update_many(filter, update).await?;
    Ok(())
}

/// Hands partitions back (they are free at once).
pub(crate) async fn release(
    leases: &Collection<Document>,
    owner: &str,
    partitions: &[Partition],
) -> mongodb::error::Result<()> {
    if partitions.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = partitions.iter().map(|p| partition_id(*p)).collect();
    leases
        .update_many(
            doc! {"_id": {"$in": ids}, "owner": owner},
            doc! {"$set": {"owner": null, "expires_at": DateTime::from_millis(0)}},
        )
        .await?;
    Ok(())
}

/// Hands back every lease `owner` holds (graceful shutdown), jobs included.
pub(crate) async fn release_all(
    leases: &Collection<Document>,
    owner: &str,
) -> mongodb::error::Result<()> {
    leases
        .update_many(
            doc! {"owner": owner},
            doc! {"$set": {"owner": null, "expires_at": DateTime::from_millis(0)}},
        )
        .await?;
    Ok(())
}

/// What `owner` holds now among `leases`: partition → token.
pub(crate) fn held_by(leases: &[PartitionLease], owner: &str) -> BTreeMap<Partition, i64> {
    leases
        .iter()
        .filter(|l| l.valid && l.owner.as_deref() == Some(owner))
        .map(|l| (l.partition, l.token))
        .collect()
}

/// Takes the lease document `id` of `collection` for `owner` (with `fields` set on it) if it is
/// free — missing, without owner, or expired — in one atomic update (not re-entrant: a holder
/// asking again is refused, so one process cannot run one job twice at once);
/// returns whether `owner` holds it afterwards. (A conditional pipeline update: upserts cannot
/// filter on `$expr`.)
pub async fn take_lease(
    collection: &Collection<Document>,
    id: &str,
    owner: &str,
    ttl: Duration,
    fields: Document,
) -> mongodb::error::Result<bool> {
    let free = doc! {"$or": [
        {"$lte": ["$owner", null]},
        {"$lte": ["$expires_at", "$$NOW"]},
    ]};
    // A nonce set only when the lease is taken tells this caller whether it took it.
    let claim = uuid::Uuid::new_v4().simple().to_string();
    let mut set = doc! {
        "owner": {"$cond": [free.clone(), owner, "$owner"]},
        "expires_at": {"$cond": [free.clone(), expiry(ttl), "$expires_at"]},
        "claim": {"$cond": [free.clone(), &claim, "$claim"]},
    };
    for (key, value) in fields {
        let kept = format!("${key}");
        set.insert(
            key,
            doc! {"$cond": [free.clone(), {"$literal": value}, kept]},
        );
    }
    let after = collection
        .find_one_and_update(doc! {"_id": id}, vec![doc! {"$set": set}])
        .upsert(true)
        .return_document(ReturnDocument::After)
        .await?;
    Ok(after.is_some_and(|d| d.get_str("claim") == Ok(claim.as_str())))
}

/// Takes the lease of job `name` if nobody else holds it; the token when taken.
pub(crate) async fn acquire_job(
    leases: &Collection<Document>,
    owner: &str,
    name: &str,
    ttl: Duration,
) -> mongodb::error::Result<Option<i64>> {
    let token = next_token(leases).await?;
    let fields = doc! {"kind": "job", "token": token};
    let taken = take_lease(leases, &format!("job/{name}"), owner, ttl, fields).await?;
    Ok(taken.then_some(token))
}

/// Ends job `name` (only if `owner` still holds it).
pub(crate) async fn finish_job(
    leases: &Collection<Document>,
    owner: &str,
    name: &str,
) -> mongodb::error::Result<()> {
    leases
        .delete_one(doc! {"_id": format!("job/{name}"), "owner": owner})
        .await?;
    Ok(())
}
