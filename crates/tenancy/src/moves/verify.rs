//! Verifying a copy in two steps, so the tenant's writes wait only for the second:
//!
//! 1. `differences`, before the cut-over, while the source still serves: every document of
//!    both databases compared (a SHA-256 of its BSON bytes, keyed by `_id`, one collection at a
//!    time); what differs is returned as keys to copy again.
//! 2. From then on, every key the catch-up copies again is compared right after (`unequal`);
//!    at the cut-over, with the source still, `settle` compares the keys not yet found equal
//!    and those of the last round, and every collection's document count.
//!
//! Together they check every document: one that was not compared at the cut-over was found
//! equal after the first step, or after its last copy, and written on neither side since (the
//! source's writes are all in the change stream, so in a later round; the target is written
//! only by the copy, only at those keys). So the writes wait for a comparison of about one
//! round's keys, not of the whole tenant.

use std::collections::HashMap;

use futures::{StreamExt, TryStreamExt};
use mongodb::Database;
use mongodb::bson::{Bson, RawDocumentBuf, doc};
use sha2::{Digest, Sha256};

use super::MoveError;
use super::changes::DirtyKeys;
use super::copy;

/// Chunks of keys compared at the same time (each reads both clusters).
const AT_ONCE: usize = 8;

/// The `_id` of a document, as its BSON bytes (the map key), and its SHA-256.
type Digests = HashMap<Vec<u8>, [u8; 32]>;

fn id_bytes(document: &RawDocumentBuf) -> Result<Option<(Vec<u8>, Bson)>, MoveError> {
    let Some(id) = document
        .get("_id")
        .map_err(|e| MoveError::Verify(e.to_string()))?
    else {
        return Ok(None);
    };
    let id = Bson::try_from(id.to_raw_bson()).map_err(|e| MoveError::Verify(e.to_string()))?;
    let bytes = mongodb::bson::to_vec(&doc! {"_id": id.clone()})
        .map_err(|e| MoveError::Verify(e.to_string()))?;
    Ok(Some((bytes, id)))
}

async fn digests(
    db: &Database,
    collection: &str,
) -> Result<(Digests, HashMap<Vec<u8>, Bson>), MoveError> {
    let mut cursor = db
        .collection::<RawDocumentBuf>(collection)
        .find(doc! {})
        .await?;
    let (mut digests, mut ids) = (Digests::new(), HashMap::new());
    while let Some(document) = cursor.try_next().await? {
        if let Some((key, id)) = id_bytes(&document)? {
            digests.insert(key.clone(), Sha256::digest(document.as_bytes()).into());
            ids.insert(key, id);
        }
    }
    Ok((digests, ids))
}

/// Step 1: the keys whose documents differ between `source` and `target` (missing on either
/// side included), by collection.
pub async fn differences(source: &Database, target: &Database) -> Result<DirtyKeys, MoveError> {
    let mut names = copy::collections(source).await?;
    names.extend(copy::collections(target).await?);
    names.sort();
    names.dedup();
    let mut differ = DirtyKeys::new();
    for name in names {
        let ((on_source, source_ids), (on_target, target_ids)) =
            futures::try_join!(digests(source, &name), digests(target, &name))?;
        let mut keys: Vec<Bson> = on_source
            .iter()
            .filter(|(key, digest)| on_target.get(*key) != Some(digest))
            .filter_map(|(key, _)| source_ids.get(key).cloned())
            .collect();
        keys.extend(
            on_target
                .keys()
                .filter(|key| !on_source.contains_key(*key))
                .filter_map(|key| target_ids.get(key).cloned()),
        );
        if !keys.is_empty() {
            differ.insert(name, keys);
        }
    }
    Ok(differ)
}

/// The keys of `keys` whose documents differ between `source` and `target` (read at about the
/// same time on both; a key written meanwhile is compared again after its next copy). Chunks
/// of 1,000 keys are compared `AT_ONCE` at a time: a cut-over's writes wait for this.
pub async fn unequal(
    source: &Database,
    target: &Database,
    keys: &DirtyKeys,
) -> Result<DirtyKeys, MoveError> {
    let chunks = keys
        .iter()
        .flat_map(|(name, ids)| ids.chunks(1000).map(move |chunk| (name, chunk)));
    let work: Vec<_> = chunks
        .map(|(name, chunk)| unequal_in(source, target, name, chunk))
        .collect();
    let compared: Vec<(&String, Vec<Bson>)> = futures::stream::iter(work)
        .buffer_unordered(AT_ONCE)
        .try_collect()
        .await?;
    let mut differ = DirtyKeys::new();
    for (name, ids) in compared {
        if !ids.is_empty() {
            differ.entry(name.clone()).or_default().extend(ids);
        }
    }
    Ok(differ)
}

/// The keys of `chunk` whose documents differ in the collection `name`.
async fn unequal_in<'a>(
    source: &Database,
    target: &Database,
    name: &'a String,
    chunk: &[Bson],
) -> Result<(&'a String, Vec<Bson>), MoveError> {
    let read = |db: &Database| {
        let collection = db.collection::<RawDocumentBuf>(name);
        let filter = doc! {"_id": {"$in": chunk}};
        async move {
            let documents: Vec<RawDocumentBuf> =
                collection.find(filter).await?.try_collect().await?;
            let mut by_id = HashMap::new();
            for document in documents {
                if let Some((key, _)) = id_bytes(&document)? {
                    by_id.insert(key, document.into_bytes());
                }
            }
            Ok::<_, MoveError>(by_id)
        }
    };
    let (on_source, on_target) = futures::try_join!(read(source), read(target))?;
    let mut differ = Vec::new();
    for id in chunk {
        let key = mongodb::bson::to_vec(&doc! {"_id": id.clone()})
            .map_err(|e| MoveError::Verify(e.to_string()))?;
        if on_source.get(&key) != on_target.get(&key) {
            differ.push(id.clone());
        }
    }
    Ok((name, differ))
}

/// Step 2: the collections where a document of `unsettled` still differs, or whose document
/// counts (the servers' metadata, so no scan) do.
pub async fn settle(
    source: &Database,
    target: &Database,
    unsettled: &DirtyKeys,
) -> Result<Vec<String>, MoveError> {
    let mut differ: Vec<String> = unequal(source, target, unsettled)
        .await?
        .into_keys()
        .collect();
    let mut names = copy::collections(source).await?;
    names.extend(copy::collections(target).await?);
    names.sort();
    names.dedup();
    let counts = names.iter().map(|name| async move {
        let count = |db: &Database| {
            let collection = db.collection::<RawDocumentBuf>(name);
            async move { collection.estimated_document_count().await }
        };
        let (on_source, on_target) = futures::try_join!(count(source), count(target))?;
        Ok::<_, MoveError>((name, on_source == on_target))
    });
    for (name, same) in futures::future::try_join_all(counts).await? {
        if !same && !differ.contains(name) {
            differ.push(name.clone());
        }
    }
    Ok(differ)
}

/// Every document of every collection compared (the slow path, after a repair).
pub async fn everything(source: &Database, target: &Database) -> Result<Vec<String>, MoveError> {
    Ok(differences(source, target).await?.into_keys().collect())
}
