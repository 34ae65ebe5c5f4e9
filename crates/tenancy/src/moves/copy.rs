//! Copying a tenant database to another cluster: its collections and indexes, then its
//! documents in batches (in `_id` order, while the source keeps serving), and later the keys
//! the change stream reports as written since.

use futures::TryStreamExt;
use mongodb::bson::{Bson, Document, doc};
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

async fn insert(to: &Collection<Document>, batch: Vec<Document>) -> Result<i64, MoveError> {
    let count = batch.len() as i64;
    if count > 0 {
        to.insert_many(batch).ordered(false).await?;
    }
    Ok(count)
}

/// Copies the dirty keys again: each document as the source has it now, or its absence.
pub async fn keys(
    source: &Database,
    target: &Database,
    dirty: &DirtyKeys,
) -> Result<usize, MoveError> {
    let mut applied = 0;
    for (name, ids) in dirty {
        let from = source.collection::<Document>(name);
        let to = target.collection::<Document>(name);
        for chunk in ids.chunks(BATCH) {
            let current: Vec<Document> = from
                .find(doc! {"_id": {"$in": chunk}})
                .await?
                .try_collect()
                .await?;
            let present: Vec<&Bson> = current.iter().filter_map(|d| d.get("_id")).collect();
            let gone: Vec<&Bson> = chunk.iter().filter(|id| !present.contains(id)).collect();
            if !gone.is_empty() {
                to.delete_many(doc! {"_id": {"$in": gone}}).await?;
            }
            let to = &to;
            let writes = current.iter().map(|document| async move {
                let id = document.get("_id").cloned().unwrap_or(Bson::Null);
                to.replace_one(doc! {"_id": id}, document)
                    .upsert(true)
                    .await
            });
            futures::future::try_join_all(writes).await?;
            applied += chunk.len();
        }
    }
    Ok(applied)
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
