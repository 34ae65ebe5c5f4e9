//! Changing a tenant's settings and suspending or resuming it.

use super::Provisioner;
use crate::catalog::Claimed;
use crate::error::{Result, TenancyError};
use crate::{Tenant, TenantId, TenantPatch, TenantStatus};

impl Provisioner {
    pub async fn update(&self, id: &TenantId, patch: &TenantPatch) -> Result<Tenant> {
        let store = self.catalog.store();
        let current = store.require(id).await?;
        if current.status == TenantStatus::Deleting {
            return Err(TenancyError::InvalidState {
                id: id.clone(),
                status: "deleting",
            });
        }
        let key = current.key();
        if let Some(domains) = &patch.domains {
            store.claim(Claimed::Domain, &key, domains).await?;
        }
        if let Some(Some(auth)) = &patch.auth
            && let Err(e) = store
                .claim(Claimed::Issuer, &key, std::slice::from_ref(&auth.issuer))
                .await
        {
            if let Some(domains) = &patch.domains {
                let added: Vec<String> = domains
                    .iter()
                    .filter(|d| !current.domains.contains(d))
                    .cloned()
                    .collect();
                store.release(Claimed::Domain, &key, &added).await?;
            }
            return Err(e);
        }
        let updated = store
            .apply_patch(id, patch)
            .await?
            .ok_or_else(|| TenancyError::NotFound(id.clone()))?;
        if let Some(domains) = &patch.domains {
            let dropped: Vec<String> = current
                .domains
                .iter()
                .filter(|d| !domains.contains(d))
                .cloned()
                .collect();
            store.release(Claimed::Domain, &key, &dropped).await?;
        }
        if let (Some(new), Some(old)) = (&patch.auth, &current.auth)
            && new.as_ref().is_none_or(|new| new.issuer != old.issuer)
        {
            store
                .release(Claimed::Issuer, &key, std::slice::from_ref(&old.issuer))
                .await?;
        }
        self.catalog.invalidate(id).await;
        Ok(updated)
    }

    pub async fn suspend(&self, id: &TenantId) -> Result<Tenant> {
        self.move_between_active_and_suspended(id, TenantStatus::Suspended)
            .await
    }

    pub async fn resume(&self, id: &TenantId) -> Result<Tenant> {
        self.move_between_active_and_suspended(id, TenantStatus::Active)
            .await
    }

    async fn move_between_active_and_suspended(
        &self,
        id: &TenantId,
        to: TenantStatus,
    ) -> Result<Tenant> {
        let store = self.catalog.store();
        let current = store.require(id).await?;
        let from = [TenantStatus::Active, TenantStatus::Suspended];
        let moved = store.transition(&current.key(), &from, to).await?;
        self.catalog.invalidate(id).await;
        match moved {
            Some(t) => {
                tracing::info!(tenant = %id, status = to.as_str(), "tenant status changed");
                Ok(t)
            }
            None => {
                let current = store.require(id).await?;
                Err(TenancyError::InvalidState {
                    id: id.clone(),
                    status: current.status.as_str(),
                })
            }
        }
    }
}
