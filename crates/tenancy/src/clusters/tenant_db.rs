//! `TenantDb`: a handle on one tenant's database (one incarnation's), holding a slot of the
//! tenant's budget for as long as it lives. Sessions for transactions come from here, so their
//! ids are recorded for the fleet (see `fleet::SessionLog`).

use mongodb::{Client, ClientSession, Collection, Database};
use tokio::sync::OwnedSemaphorePermit;

use crate::fleet::SessionLog;

use crate::{TenantId, TenantKey};

#[derive(Debug)]
pub struct TenantDb {
    db: Database,
    cluster: String,
    key: TenantKey,
    _permit: Option<OwnedSemaphorePermit>,
    sessions: SessionLog,
}

impl TenantDb {
    pub(super) fn new(
        db: Database,
        cluster: &str,
        key: TenantKey,
        permit: Option<OwnedSemaphorePermit>,
        sessions: SessionLog,
    ) -> Self {
        TenantDb {
            db,
            cluster: cluster.to_string(),
            key,
            _permit: permit,
            sessions,
        }
    }

    pub fn tenant_id(&self) -> &TenantId {
        &self.key.id
    }

    /// The name of the cluster this handle's database is on.
    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    pub fn key(&self) -> &TenantKey {
        &self.key
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

    /// A session for a transaction, its id recorded before first use.
    pub async fn start_session(&self) -> mongodb::error::Result<ClientSession> {
        let session = self.db.client().start_session().await?;
        self.sessions.record(session.id()).await;
        Ok(session)
    }

    /// Marks `session` as inside a transaction on this tenant while the guard lives.
    pub fn in_transaction(&self, session: &ClientSession) -> crate::fleet::InTransaction {
        self.sessions.in_transaction(&self.key, session.id())
    }
}
