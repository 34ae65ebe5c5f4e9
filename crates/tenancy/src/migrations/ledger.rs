//! The migration ledger of a tenant database (`_meta` documents `migration:<component>:<n>`)
//! and the "apply what is pending" step.

use std::collections::HashSet;

use futures::TryStreamExt;
use mongodb::bson::{DateTime, Document, doc};
use serde::Deserialize;

use super::Schema;
use crate::clusters::TenantDb;
use crate::error::{Result, TenancyError};
use crate::meta::META;

const PREFIX: &str = "migration:";

fn entry_id(component: &str, version: u32) -> String {
    format!("{PREFIX}{component}:{version}")
}

#[derive(Debug, Deserialize)]
struct LedgerEntry {
    component: String,
    version: u32,
}

/// The (component, version) pairs the tenant's ledger records.
pub async fn applied_versions(db: &TenantDb) -> Result<HashSet<(String, u32)>> {
    let filter = doc! {"_id": {"$regex": format!("^{PREFIX}")}};
    let entries: Vec<LedgerEntry> = db
        .collection::<LedgerEntry>(META)
        .find(filter)
        .await?
        .try_collect()
        .await?;
    Ok(entries
        .into_iter()
        .map(|e| (e.component, e.version))
        .collect())
}

/// Applies, in order, every migration of `schema` the ledger does not record; returns the schema
/// version reached (how many of the schema's migrations are applied). Stops at the first
/// failure: later migrations may depend on it.
pub async fn apply_pending(db: &TenantDb, schema: &Schema) -> Result<u32> {
    let mut applied = applied_versions(db).await?;
    let ledger = db.collection::<Document>(META);
    for (component, migration) in schema.steps() {
        if applied.contains(&(component.to_string(), migration.version)) {
            continue;
        }
        (migration.apply)(db.database())
            .await
            .map_err(|source| TenancyError::Migration {
                component,
                version: migration.version,
                name: migration.name,
                source,
            })?;
        let entry = doc! {
            "component": component,
            "version": migration.version,
            "name": migration.name,
            "applied_at": DateTime::now(),
        };
        ledger
            .replace_one(doc! {"_id": entry_id(component, migration.version)}, entry)
            .upsert(true)
            .await?;
        tracing::info!(tenant = %db.tenant_id(), component, version = migration.version, name = migration.name, "migration applied");
        applied.insert((component.to_string(), migration.version));
    }
    let reached = schema
        .steps()
        .filter(|(c, m)| applied.contains(&(c.to_string(), m.version)))
        .count();
    Ok(reached as u32)
}
