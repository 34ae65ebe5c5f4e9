//! What a deleted incarnation leaves of its moves, removed: a done move's source database kept
//! for its grace period is dropped with the tenant (nothing of a deleted tenant is kept for a
//! rollback), and a finished move's record goes. A move still running is left to its runner,
//! which finds the tenant gone, undoes the move (dropping the target's copy) and removes its
//! record (`Mover::run_steps`).

use mongodb::Database;

use super::record::{self, MoveState};
use crate::TenantKey;
use crate::catalog::CatalogStore;
use crate::clusters::ClusterPools;
use crate::error::Result;

/// Run by a deletion once the tenant's database is dropped, before its catalog record goes
/// (a crash in between runs it again).
pub async fn forget(catalog: &Database, pools: &ClusterPools, key: &TenantKey) -> Result<()> {
    let Some(last) = record::load(catalog, key).await? else {
        return Ok(());
    };
    if last.state == MoveState::Done && last.source_dropped_at.is_none() {
        // A cluster no longer configured cannot hold up the deletion: its source stays listed
        // as not dropped (`GET .../move` and the sweeper's warnings show it).
        let Ok(source) = pools.cluster(&last.from) else {
            tracing::warn!(tenant = %key, cluster = %last.from, database = %last.database, "a deleted tenant's moved-away source database is on a cluster no longer configured: drop it by hand");
            return Ok(());
        };
        source.client().database(&last.database).drop().await?;
        record::source_dropped(catalog, &last.key).await?;
        tracing::info!(tenant = %key, cluster = %last.from, database = %last.database, "a deleted tenant's moved-away source database dropped");
    }
    record::remove_if_over(catalog, &last.key).await?;
    Ok(())
}

/// Removes the records of finished moves whose incarnation is gone (left by versions that
/// kept them); returns how many.
pub async fn orphans(catalog: &CatalogStore) -> Result<usize> {
    let mut removed = 0;
    let over = record::over_keys(catalog.database()).await?;
    for keys in over.chunks(1_000) {
        let ids: Vec<&str> = keys
            .iter()
            .map(|k| k.rsplit_once('@').map_or(k.as_str(), |(id, _)| id))
            .collect();
        let live = catalog.keys_of(&ids).await?;
        for key in keys.iter().filter(|k| !live.contains(k)) {
            if record::remove_if_over(catalog.database(), key).await? {
                removed += 1;
            }
        }
    }
    Ok(removed)
}
