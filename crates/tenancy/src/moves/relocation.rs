//! What a command does when it finds its tenant's writes fenced: if a move of the tenant is
//! cutting over, it waits (bounded) for the move to switch or roll back, then runs again where
//! the tenant is now. It reads the catalog itself, not the cache: no instance has to agree with
//! another on anything for this to be right.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::{MoveState, record};
use crate::catalog::CatalogCache;
use crate::{TenantContext, TenantStatus};

/// How often a waiting command looks at the catalog.
const POLL: Duration = Duration::from_millis(20);

#[derive(Clone, Debug)]
pub struct Relocation {
    catalog: CatalogCache,
    /// The longest a command waits for a cut-over.
    hold: Duration,
}

impl Relocation {
    pub fn new(catalog: CatalogCache, hold: Duration) -> Relocation {
        Relocation { catalog, hold }
    }

    /// After a command of `ctx` found the tenant's writes fenced: the tenant's context to run
    /// it again with, once the fence is a move's that has switched (the new placement) or
    /// rolled back (the same); `None` when the fence is not a move's (a deletion), or the
    /// cut-over outlasted the hold.
    pub async fn settle(&self, ctx: &TenantContext) -> Option<TenantContext> {
        let before = ctx.tenant();
        let store = self.catalog.store();
        let deadline = Instant::now() + self.hold;
        loop {
            // The move first, then the tenant: the switch changes both in one transaction, so a
            // move read as done is always followed by a placement read as switched.
            let move_ = record::load(store.database(), &before.key()).await.ok()??;
            let tenant = store.get(&before.id).await.ok()??;
            if tenant.key() != before.key()
                || !matches!(
                    tenant.status,
                    TenantStatus::Active | TenantStatus::Suspended
                )
            {
                return None;
            }
            let again = if tenant.cluster != before.cluster {
                self.catalog.invalidate(&tenant.id).await;
                true
            } else {
                match move_.state {
                    MoveState::Failed => true,
                    MoveState::Done => return None,
                    MoveState::Copying | MoveState::CatchingUp | MoveState::CuttingOver => false,
                }
            };
            if again {
                return Some(TenantContext::new(Arc::new(tenant), ctx.actor()));
            }
            if Instant::now() + POLL > deadline {
                return None;
            }
            tokio::time::sleep(POLL).await;
        }
    }
}
