//! `TenantDb`: a handle on one tenant's database, holding a slot of the tenant's budget for as
//! long as it lives.

use mongodb::{Client, Collection, Database};
use tokio::sync::OwnedSemaphorePermit;

use crate::TenantId;

#[derive(Debug)]
pub struct TenantDb {
    db: Database,
    tenant_id: TenantId,
    _permit: Option<OwnedSemaphorePermit>,
}

impl TenantDb {
    pub(super) fn new(
        db: Database,
        tenant_id: TenantId,
        permit: Option<OwnedSemaphorePermit>,
    ) -> Self {
        TenantDb {
            db,
            tenant_id,
            _permit: permit,
        }
    }

    pub fn tenant_id(&self) -> &TenantId {
        &self.tenant_id
    }

    pub fn collection<T: Send + Sync>(&self, name: &str) -> Collection<T> {
        self.db.collection(name)
    }

    /// The raw database, for the migration runner and commands that need sessions.
    pub fn database(&self) -> &Database {
        &self.db
    }

    pub fn client(&self) -> &Client {
        self.db.client()
    }
}
