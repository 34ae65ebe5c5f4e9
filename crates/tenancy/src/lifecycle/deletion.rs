//! Deleting a tenant: fence, then drop, then forget.
//!
//! 1. `begin_deletion`: the record becomes `deleting` (every instance answers 503 from its next
//!    request: the catalog change stream invalidates their caches).
//! 2. `finish_deletion`, under the job lease `delete/<id>@<incarnation>` so one instance works
//!    on it at a time:
//!    - every fence of the tenant database is flipped to `deleting` in one transaction (see
//!      `meta`): that waits for the transactions already past a fence and makes every later
//!      one abort, so no command or projector write of this incarnation commits any more;
//!    - the database is dropped, and checked gone; so is a moved-away source database still
//!      kept for its move's grace period, and the finished move's record goes;
//!    - only then are the record and its domain claims removed (by incarnation: a successor's
//!      are never touched).
//!
//! Every step is idempotent and a crash anywhere leaves the record `deleting`: the sweeper of
//! any instance (and every start) finishes it. The database name carries the incarnation, so a
//! re-created id never shares anything with what is being deleted.

use std::time::Duration;

use mongodb::bson::doc;

use super::Provisioner;
use crate::error::{Result, TenancyError};
use crate::task::AbortOnDrop;
use crate::{Tenant, TenantId, TenantKey, TenantStatus, failpoint, meta, transaction};

/// How long one drop may take before the step is retried later.
const DROP_TIMEOUT: Duration = Duration::from_secs(60);
/// After the fences flip, transactions that were already past one finish (or fail) before the
/// drop: a drop racing an open transaction can wait for it (and on the embedded store, dead-
/// lock with it).
const DRAIN: Duration = Duration::from_secs(1);

impl Provisioner {
    /// Marks the tenant `deleting` (requests see 503 at once); the caller then runs
    /// `finish_deletion`, usually in the background.
    pub async fn begin_deletion(&self, id: &TenantId) -> Result<Tenant> {
        let store = self.catalog.store();
        let current = store.require(id).await?;
        let all = [
            TenantStatus::Provisioning,
            TenantStatus::Active,
            TenantStatus::Suspended,
            TenantStatus::Deleting,
        ];
        let tenant = store
            .transition(&current.key(), &all, TenantStatus::Deleting)
            .await?
            .ok_or_else(|| TenancyError::NotFound(id.clone()))?;
        self.catalog.invalidate(id).await;
        tracing::info!(tenant = %tenant.key(), "tenant deletion started");
        failpoint::hit("deletion.after_mark");
        Ok(tenant)
    }

    /// Finishes the deletion of this incarnation. `Ok(false)` when another instance is at it.
    pub async fn finish_deletion(&self, key: &TenantKey) -> Result<bool> {
        match &self.fleet {
            Some(fleet) => Ok(fleet
                .exclusively(&format!("delete/{key}"), self.delete_steps(key))
                .await?
                .is_some()),
            None => self.delete_steps(key).await.map(|()| true),
        }
    }

    async fn delete_steps(&self, key: &TenantKey) -> Result<()> {
        let store = self.catalog.store();
        let Some(tenant) = store.get(&key.id).await? else {
            return Ok(());
        };
        if tenant.incarnation != key.incarnation || tenant.status != TenantStatus::Deleting {
            return Ok(());
        }
        let db = self.pools.maintenance_db(&tenant).await?;
        let database = db.database();
        let fenced = transaction::run(&db, |mut session| async move {
            let flipped = meta::fence_all(database, &mut session).await;
            (session, flipped.map_err(TenancyError::from))
        })
        .await?;
        tracing::info!(tenant = %key, fences = fenced, "tenant fenced: no more writes commit");
        failpoint::hit("deletion.after_fence");
        tokio::time::sleep(DRAIN).await;
        // This instance's own stragglers on the tenant, if any, are ended rather than raced.
        let stragglers = self.pools.sessions().busy_on(key);
        if !stragglers.is_empty() {
            let client = self.pools.cluster(&tenant.cluster)?.client();
            crate::fleet::kill_sessions(client, &stragglers).await?;
            tracing::info!(tenant = %key, sessions = stragglers.len(), "open transactions on a deleted tenant ended");
        }
        self.drop_database(&tenant).await?;
        failpoint::hit("deletion.after_drop");
        if self.database_exists(&tenant).await? {
            return Err(TenancyError::InvalidState {
                id: key.id.clone(),
                status: "deleting (its database is still there)",
            });
        }
        crate::moves::forget(store.database(), &self.pools, key).await?;
        failpoint::hit("deletion.before_remove");
        store.remove(key).await?;
        self.catalog.invalidate(&key.id).await;
        tracing::info!(tenant = %key, database = %tenant.database, "tenant deleted");
        Ok(())
    }

    async fn drop_database(&self, tenant: &Tenant) -> Result<()> {
        let db = self.pools.maintenance_db(tenant).await?;
        match tokio::time::timeout(DROP_TIMEOUT, db.database().drop()).await {
            Ok(dropped) => Ok(dropped?),
            Err(_) => Err(TenancyError::InvalidState {
                id: tenant.id.clone(),
                status: "deleting (its database drop is taking long)",
            }),
        }
    }

    async fn database_exists(&self, tenant: &Tenant) -> Result<bool> {
        let client = self.pools.cluster(&tenant.cluster)?.client();
        let names = client
            .list_database_names()
            .filter(doc! {"name": &tenant.database})
            .await?;
        Ok(names.contains(&tenant.database))
    }

    /// Finishes every deletion that is not being worked on; returns how many it finished.
    pub async fn resume_deletions(&self) -> Result<usize> {
        let store = self.catalog.store();
        let ids = store.ids_with_status(&[TenantStatus::Deleting]).await?;
        let mut finished = 0;
        for id in ids {
            let Some(tenant) = store.get(&id).await? else {
                continue;
            };
            if self.finish_deletion(&tenant.key()).await? {
                finished += 1;
            }
        }
        Ok(finished)
    }
}

/// Finishes interrupted deletions every `every`, on this instance (any instance may: the job
/// lease keeps them from working on the same one).
pub fn spawn_deletion_sweeper(provisioner: Provisioner, every: Duration) -> AbortOnDrop {
    AbortOnDrop::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            match provisioner.resume_deletions().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(tenants = n, "finished interrupted tenant deletions"),
                Err(e) => {
                    tracing::warn!(error = %crate::ErrorChain(&e), "deletion sweep failed; retrying")
                }
            }
        }
    })
}
