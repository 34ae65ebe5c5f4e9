//! Copying a tenant database to another cluster: its collections and indexes, then its
//! documents in batches (in `_id` order, while the source keeps serving), and later the keys
//! the change stream reports as written since.
//!
//! A write whose unique key (a product's sku, say) is taken on the target is left for later,
//! not an error: the source cannot hold two documents with one unique key at once, so the
//! target's holder of it has changed on the source since it was copied, and both are among the
//! keys the change stream reports. A round writes such documents again after its other writes
//! (the holder deleted or changed by then); what is still taken is found by the verification.

use futures::TryStreamExt;
use mongodb::bson::{Bson, Document, doc};
use mongodb::error::ErrorKind;
use mongodb::{Collection, Database, IndexModel};

use super::MoveError;
use super::changes::DirtyKeys;

/// Documents per batch.
const BATCH: usize = 1000;

/// The database's collections (the server's own `system.*` left out), sorted.
pub async fn collections(db: &Database) -> Result<Vec<String>, MoveError> {
    let mut names = db
        .list_collection_names()
        .filter(doc! {"name": {"$not": {"$regex": "^system\\."}}})
        .await?;
    names.sort();
    Ok(names)
}

/// Creates on `target` every collection of `source` the migrations did not, and every index
/// of `source` that `target` lacks (read models of later generations, say).
pub async fn shape(source: &Database, target: &Database) -> Result<(), MoveError> {
    let existing = collections(target).await?;
    for name in collections(source).await? {
        if !existing.contains(&name) {
            target.create_collection(&name).await?;
        }
        let indexes: Vec<IndexModel> = source
            .collection::<Document>(&name)
            .list_indexes()
            .await?
            .try_collect()
            .await?;
        let extra: Vec<IndexModel> = indexes
            .into_iter()
            .filter(|i| i.keys != doc! {"_id": 1})
            .collect();
        if !extra.is_empty() {
            target
                .collection::<Document>(&name)
                .create_indexes(extra)
                .await?;
        }
    }
    Ok(())
}

/// Copies every document of `source` to `target` (documents already there are replaced);
/// `progress` hears the running total after each batch and may stop the copy (`false`).
pub async fn everything<F, Fut>(
    source: &Database,
    target: &Database,
    mut progress: F,
) -> Result<i64, MoveError>
where
    F: FnMut(i64) -> Fut,
    Fut: Future<Output = Result<bool, MoveError>>,
{
    let mut copied = 0_i64;
    for name in collections(source).await? {
        let from = source.collection::<Document>(&name);
        let to = target.collection::<Document>(&name);
        let mut cursor = from.find(doc! {}).sort(doc! {"_id": 1}).await?;
        let mut batch = Vec::with_capacity(BATCH);
        while let Some(document) = cursor.try_next().await? {
            batch.push(document);
            if batch.len() == BATCH {
                copied += insert(&to, std::mem::take(&mut batch)).await?;
                if !progress(copied).await? {
                    return Err(MoveError::TakenOver);
                }
            }
        }
        copied += insert(&to, batch).await?;
        if !progress(copied).await? {
            return Err(MoveError::TakenOver);
        }
    }
    Ok(copied)
}

/// Inserts `batch`; how many documents it inserted (those whose unique key is taken are left
/// to the catch-up).
async fn insert(to: &Collection<Document>, batch: Vec<Document>) -> Result<i64, MoveError> {
    let count = batch.len() as i64;
    if count == 0 {
        return Ok(0);
    }
    match to.insert_many(batch).ordered(false).await {
        Ok(_) => Ok(count),
        Err(e) => {
            let taken = taken_keys(&e).ok_or(e)?;
            tracing::info!(
                collection = to.name(),
                documents = taken,
                "move: documents whose unique key is taken on the target are left to the catch-up"
            );
            Ok(count - taken)
        }
    }
}

/// MongoDB's duplicate-key error code.
const DUPLICATE_KEY: i32 = 11000;

/// How many of an `insert_many`'s documents failed, if each failed only on a taken unique key.
fn taken_keys(e: &mongodb::error::Error) -> Option<i64> {
    let ErrorKind::InsertMany(failed) = e.kind.as_ref() else {
        return None;
    };
    let errors = failed.write_errors.as_ref()?;
    let only_taken =
        failed.write_concern_error.is_none() && errors.iter().all(|w| w.code == DUPLICATE_KEY);
    only_taken.then_some(errors.len() as i64)
}

/// Copies the dirty keys again: each document as the source has it now, or its absence. Per
/// chunk of keys: one read, one delete of those gone and one write of the others (a cut-over's
/// writes wait for the last round's copy: the collections are copied at once); then once more
/// the documents whose unique key was taken.
pub async fn keys(
    source: &Database,
    target: &Database,
    dirty: &DirtyKeys,
) -> Result<usize, MoveError> {
    let copied = futures::future::try_join_all(
        dirty
            .iter()
            .map(|(name, ids)| keys_of(source, target, name, ids)),
    )
    .await?;
    Ok(copied.into_iter().sum())
}

/// `keys` for the collection `name`, one chunk after the other (a chunk's deletions may free
/// a unique key that an earlier chunk's document takes).
async fn keys_of(
    source: &Database,
    target: &Database,
    name: &str,
    ids: &[Bson],
) -> Result<usize, MoveError> {
    let mut taken = Vec::new();
    for chunk in ids.chunks(BATCH) {
        taken.extend(chunk_of_keys(source, target, name, chunk).await?);
    }
    if taken.is_empty() {
        return Ok(ids.len());
    }
    // The target's copies of them are stale: gone first, so that documents that swapped
    // unique values can both be written.
    target
        .collection::<Document>(name)
        .delete_many(doc! {"_id": {"$in": &taken}})
        .await?;
    let mut left = 0;
    for chunk in taken.chunks(BATCH) {
        left += chunk_of_keys(source, target, name, chunk).await?.len();
    }
    // Those still taken are left to the verification.
    tracing::info!(collection = %name, documents = taken.len(), left, "move: documents whose unique key was taken on the target are written again after the others");
    Ok(ids.len())
}

/// Copies one chunk of keys; the ids of the documents whose unique key is taken on the target.
async fn chunk_of_keys(
    source: &Database,
    target: &Database,
    name: &str,
    chunk: &[Bson],
) -> Result<Vec<Bson>, MoveError> {
    let current: Vec<Document> = source
        .collection::<Document>(name)
        .find(doc! {"_id": {"$in": chunk}})
        .await?
        .try_collect()
        .await?;
    if current.len() < chunk.len() {
        let present: Vec<&Bson> = current.iter().filter_map(|d| d.get("_id")).collect();
        let gone: Vec<&Bson> = chunk.iter().filter(|id| !present.contains(id)).collect();
        target
            .collection::<Document>(name)
            .delete_many(doc! {"_id": {"$in": gone}})
            .await?;
    }
    put(target, name, current).await
}

/// A command's size this write stays under (the server's limit is 16 MiB).
const COMMAND_BYTES: usize = 8 * 1024 * 1024;

/// Writes `documents` into `target`'s `name` whole, inserted where missing: one `update`
/// command per 8 MiB of them (every MongoDB has it, unlike `bulkWrite`); the ids of those whose
/// unique key is taken.
async fn put(
    target: &Database,
    name: &str,
    documents: Vec<Document>,
) -> Result<Vec<Bson>, MoveError> {
    let mut taken = Vec::new();
    let mut updates = Vec::new();
    let mut bytes = 0;
    for document in documents {
        let size = document_size(&document)?;
        if bytes + size > COMMAND_BYTES && !updates.is_empty() {
            taken.extend(update(target, name, std::mem::take(&mut updates)).await?);
            bytes = 0;
        }
        bytes += size;
        let id = document.get("_id").cloned().unwrap_or(Bson::Null);
        updates.push(doc! {"q": {"_id": id}, "u": document, "upsert": true});
    }
    if !updates.is_empty() {
        taken.extend(update(target, name, updates).await?);
    }
    Ok(taken)
}

fn document_size(document: &Document) -> Result<usize, MoveError> {
    mongodb::bson::to_vec(document)
        .map(|bytes| bytes.len())
        .map_err(|e| MoveError::Copy(format!("a document cannot be encoded: {e}")))
}

/// Runs one `update` command of `updates`; the ids of those that failed on a taken unique key.
async fn update(
    target: &Database,
    name: &str,
    updates: Vec<Document>,
) -> Result<Vec<Bson>, MoveError> {
    let reply = target
        .run_command(doc! {"update": name, "updates": &updates, "ordered": false})
        .await?;
    if let Ok(error) = reply.get_document("writeConcernError") {
        return Err(MoveError::Copy(format!("the writes to {name}: {error}")));
    }
    // A command's write errors are in its reply, not its outcome.
    let Ok(errors) = reply.get_array("writeErrors") else {
        return Ok(Vec::new());
    };
    let mut taken = Vec::new();
    for error in errors {
        let id = error
            .as_document()
            .filter(|e| e.get_i32("code") == Ok(DUPLICATE_KEY))
            .and_then(|e| e.get_i32("index").ok())
            .and_then(|i| updates.get(usize::try_from(i).ok()?))
            .and_then(|u| u.get_document("q").ok()?.get("_id"));
        let Some(id) = id else {
            return Err(MoveError::Copy(format!(
                "{} of the writes to {name} failed, one: {error}",
                errors.len()
            )));
        };
        taken.push(id.clone());
    }
    Ok(taken)
}

/// Replaces the target's copy of one collection with the source's (a repair after a failed
/// verification, while the source is fenced).
pub async fn again(source: &Database, target: &Database, name: &str) -> Result<(), MoveError> {
    let to = target.collection::<Document>(name);
    to.delete_many(doc! {}).await?;
    let mut cursor = source
        .collection::<Document>(name)
        .find(doc! {})
        .sort(doc! {"_id": 1})
        .await?;
    let mut batch = Vec::with_capacity(BATCH);
    while let Some(document) = cursor.try_next().await? {
        batch.push(document);
        if batch.len() == BATCH {
            insert(&to, std::mem::take(&mut batch)).await?;
        }
    }
    insert(&to, batch).await?;
    Ok(())
}
