//! Verifying a copy: per collection, the number of documents and a SHA-256 of their BSON bytes
//! in `_id` order, computed on both clusters at once. Run while the source is fenced, so both
//! sides are still.

use std::collections::BTreeMap;

use futures::TryStreamExt;
use mongodb::Database;
use mongodb::bson::{RawDocumentBuf, doc};
use sha2::{Digest, Sha256};

use super::MoveError;
use super::copy;

/// A collection's document count and checksum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub documents: u64,
    pub sha256: [u8; 32],
}

/// Every collection's summary.
pub async fn summarise(db: &Database) -> Result<BTreeMap<String, Summary>, MoveError> {
    let mut summaries = BTreeMap::new();
    for name in copy::collections(db).await? {
        let mut cursor = db
            .collection::<RawDocumentBuf>(&name)
            .find(doc! {})
            .sort(doc! {"_id": 1})
            .await?;
        let mut hash = Sha256::new();
        let mut documents = 0;
        while let Some(document) = cursor.try_next().await? {
            hash.update(document.as_bytes());
            documents += 1;
        }
        let sha256 = hash.finalize().into();
        summaries.insert(name, Summary { documents, sha256 });
    }
    Ok(summaries)
}

/// The collections whose copy differs from the source (missing on either side included).
pub async fn differences(source: &Database, target: &Database) -> Result<Vec<String>, MoveError> {
    let (source, target) = futures::try_join!(summarise(source), summarise(target))?;
    let mut differ: Vec<String> = source
        .iter()
        .filter(|(name, summary)| target.get(*name) != Some(summary))
        .map(|(name, _)| name.clone())
        .collect();
    differ.extend(
        target
            .iter()
            .filter(|(name, summary)| !source.contains_key(*name) && summary.documents > 0)
            .map(|(name, _)| name.clone()),
    );
    Ok(differ)
}
