//! Verifying a copy in two steps, so the tenant's writes wait only for the second:
//!
//! 1. `differences`, before the cut-over, while the source still serves: every document of
//!    both databases compared (a SHA-256 of its BSON bytes, keyed by `_id`, one collection at a
//!    time); what differs is returned as keys to copy again.
//! 2. `settle`, during the cut-over, with the source still: the keys the first step found and
//!    every key written since it began (the change stream's) compared document by document, and
//!    every collection's document count.
//!
//! Together they check every document: one that neither step compared was equal at the first
//! step and written on neither side since (the source's writes are all in the change stream;
//! the target is written only by the copy, only at those keys).

use std::collections::{BTreeMap, HashMap};

use futures::TryStreamExt;
use mongodb::Database;
use mongodb::bson::{Bson, RawDocumentBuf, doc};
use sha2::{Digest, Sha256};

use super::MoveError;
use super::changes::DirtyKeys;
use super::copy;

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

/// Step 2: the collections where a document of `keys` differs, or the document counts do.
pub async fn settle(
    source: &Database,
    target: &Database,
    keys: &DirtyKeys,
) -> Result<Vec<String>, MoveError> {
    let mut differ = Vec::new();
    for (name, ids) in keys {
        for chunk in ids.chunks(1000) {
            let filter = doc! {"_id": {"$in": chunk}};
            let read = |db: &Database| {
                let collection = db.collection::<RawDocumentBuf>(name);
                let filter = filter.clone();
                async move {
                    let documents: Vec<RawDocumentBuf> =
                        collection.find(filter).await?.try_collect().await?;
                    let mut by_id = BTreeMap::new();
                    for document in documents {
                        if let Some((key, _)) = id_bytes(&document)? {
                            by_id.insert(key, document.into_bytes());
                        }
                    }
                    Ok::<_, MoveError>(by_id)
                }
            };
            let (on_source, on_target) = futures::try_join!(read(source), read(target))?;
            if on_source != on_target {
                differ.push(name.clone());
                break;
            }
        }
    }
    let mut names = copy::collections(source).await?;
    names.extend(copy::collections(target).await?);
    names.sort();
    names.dedup();
    for name in names {
        if differ.contains(&name) {
            continue;
        }
        let count = |db: &Database| {
            let collection = db.collection::<RawDocumentBuf>(&name);
            async move { collection.count_documents(doc! {}).await }
        };
        let (on_source, on_target) = futures::try_join!(count(source), count(target))?;
        if on_source != on_target {
            differ.push(name);
        }
    }
    Ok(differ)
}

/// Every document of every collection compared (the slow path, after a repair).
pub async fn everything(source: &Database, target: &Database) -> Result<Vec<String>, MoveError> {
    Ok(differences(source, target).await?.into_keys().collect())
}
