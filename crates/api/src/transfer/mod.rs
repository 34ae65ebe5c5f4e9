//! A tenant's data as a stream and back: `export` writes every document of the tenant's data
//! collections as NDJSON lines `{"collection": ..., "document": ...}` (MongoDB Extended JSON v2,
//! canonical: what `mongoimport` and every MongoDB tool read), consistent as of one point in
//! time; `import` loads such a stream into a tenant without events and rebuilds its read models
//! from the imported outbox. Memory stays flat in the tenant's size both ways.
//!
//! The data is the tenant database's own: the write model, the outbox and the idempotency
//! records of `_meta` (so replays keep working). Left out, because they are derived or belong to
//! the database rather than to the data: the rest of `_meta` (identity, migration ledger,
//! counters, checkpoints, dead letters), `system.*` and the read models of every generation.

mod export;
mod import;

use cqrs::command::IDEMPOTENCY_RECORDS;
use cqrs::projector::ProjectStored;
use mongodb::Database;
use mongodb::bson::{Document, doc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tenancy::TenantId;
use tenancy::meta::{self, META};

pub use export::{ExportError, export};
pub use import::{ImportError, Imported, import, lines};

/// What an import loaded, and the read models built from it (the admin API's answer and the
/// CLI's JSON).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    pub tenant_id: String,
    #[serde(flatten)]
    pub imported: Imported,
    /// The generation of read models rebuilt from the imported outbox.
    pub generation: u32,
    /// How long loading the documents took, in milliseconds.
    pub load_ms: u64,
    /// How long rebuilding the read models took, in milliseconds.
    pub rebuild_ms: u64,
}

impl ImportReport {
    /// The report of an import started at `started` that loaded for `loaded` and has just
    /// finished rebuilding into `generation`.
    pub fn new(
        tenant: &TenantId,
        imported: Imported,
        generation: u32,
        loaded: Duration,
        started: Instant,
    ) -> ImportReport {
        let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        ImportReport {
            tenant_id: tenant.to_string(),
            imported,
            generation,
            load_ms: millis(loaded),
            rebuild_ms: millis(started.elapsed().saturating_sub(loaded)),
        }
    }
}

/// One line of a stream.
#[derive(Debug, Serialize, Deserialize)]
pub struct Line {
    pub collection: String,
    pub document: serde_json::Value,
}

/// A collection of the tenant's data, or the part of one that is (the idempotency records among
/// the database's own documents in `_meta`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub collection: String,
    /// Only the documents whose `_id` starts with this.
    pub id_prefix: Option<&'static str>,
}

impl Source {
    /// Its documents, as a filter on its collection.
    fn filter(&self) -> Document {
        self.id_prefix.map_or_else(Document::new, meta::id_prefix)
    }

    /// Whether `document` belongs to it.
    fn holds(&self, document: &Document) -> bool {
        self.id_prefix.is_none_or(|prefix| {
            document
                .get_str("_id")
                .is_ok_and(|id| id.starts_with(prefix))
        })
    }
}

/// Where the tenant database's data is, in the order an export writes it.
pub async fn data_sources(
    db: &Database,
    projections: &[Arc<dyn ProjectStored>],
) -> mongodb::error::Result<Vec<Source>> {
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
    let idempotency = Source {
        collection: META.to_string(),
        id_prefix: Some(IDEMPOTENCY_RECORDS),
    };
    let collections = names.into_iter().map(|collection| Source {
        collection,
        id_prefix: None,
    });
    Ok(std::iter::once(idempotency).chain(collections).collect())
}

/// The `_id` order documents are written in (an export is sorted, so two exports of the same
/// data are the same bytes).
fn by_id() -> Document {
    doc! {"_id": 1}
}
