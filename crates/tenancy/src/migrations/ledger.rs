//! The `_migrations` ledger of a tenant database and the "apply what is pending" step.

use futures::TryStreamExt;
use mongodb::bson::{DateTime, doc};
use serde::{Deserialize, Serialize};

use super::{MIGRATIONS, Migration};
use crate::clusters::TenantDb;
use crate::error::{Result, TenancyError};

const LEDGER: &str = "_migrations";

#[derive(Debug, Serialize, Deserialize)]
struct LedgerEntry {
    #[serde(rename = "_id")]
    version: u32,
    name: String,
    applied_at: DateTime,
}

/// Applies, in order, every migration the tenant's ledger does not record; returns the schema
/// version reached. Stops at the first failure (later migrations may depend on it).
pub async fn apply_pending(db: &TenantDb) -> Result<u32> {
    apply_from(db, MIGRATIONS).await
}

pub(crate) async fn apply_from(db: &TenantDb, migrations: &[Migration]) -> Result<u32> {
    let ledger = db.collection::<LedgerEntry>(LEDGER);
    let applied: Vec<LedgerEntry> = ledger.find(doc! {}).await?.try_collect().await?;
    let mut version = applied.iter().map(|e| e.version).max().unwrap_or(0);
    for migration in migrations {
        if applied.iter().any(|e| e.version == migration.version) {
            continue;
        }
        (migration.apply)(db.database())
            .await
            .map_err(|source| TenancyError::Migration {
                version: migration.version,
                name: migration.name,
                source,
            })?;
        let entry = LedgerEntry {
            version: migration.version,
            name: migration.name.to_string(),
            applied_at: DateTime::now(),
        };
        ledger
            .replace_one(doc! {"_id": migration.version}, &entry)
            .upsert(true)
            .await?;
        tracing::info!(tenant = %db.tenant_id(), version = migration.version, name = migration.name, "migration applied");
        version = version.max(migration.version);
    }
    Ok(version)
}
