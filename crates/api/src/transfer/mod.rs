//! A tenant's data as a stream and back: `export` writes every document of the tenant's data
//! collections as NDJSON lines `{"collection": ..., "document": ...}` (MongoDB Extended JSON v2,
//! canonical: what `mongoimport` and every MongoDB tool read), consistent as of one point in
//! time; `import` loads such a stream into a tenant without events and rebuilds its read models
//! from the imported outbox. Memory stays flat in the tenant's size both ways.
//!
//! The data collections are the tenant database's own: the write model, the outbox and the
//! idempotency records (so replays keep working). Left out, because they are derived or belong
//! to the database rather than to the data: `_meta` (identity, migration ledger, counters and
//! checkpoints), `_dead_letters`, `system.*` and the read models of every generation.

mod export;
mod import;

use cqrs::projector::ProjectStored;
use mongodb::Database;
use mongodb::bson::{Document, doc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub use export::{ExportError, export};
pub use import::{ImportError, Imported, import, lines};

/// One line of a stream.
#[derive(Debug, Serialize, Deserialize)]
pub struct Line {
    pub collection: String,
    pub document: serde_json::Value,
}

/// The tenant database's data collections, by name.
pub async fn data_collections(
    db: &Database,
    projections: &[Arc<dyn ProjectStored>],
) -> mongodb::error::Result<Vec<String>> {
    let read_models: Vec<&'static str> = projections
        .iter()
        .flat_map(|p| p.read_models().iter().map(|spec| spec.name))
        .collect();
    let mut names = db
        .list_collection_names()
        .filter(doc! {"name": {"$not": {"$regex": "^(_|system\\.)"}}})
        .await?;
    names.retain(|name| {
        cqrs::read_models::parse_collection_name(name, read_models.iter().copied()).is_none()
    });
    names.sort();
    Ok(names)
}

/// The `_id` order documents are written in (an export is sorted, so two exports of the same
/// data are the same bytes).
fn by_id() -> Document {
    doc! {"_id": 1}
}
