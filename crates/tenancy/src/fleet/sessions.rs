//! `SessionLog`: the logical-session ids (lsids) this instance has used for transactions, recorded
//! in its catalog entry *before* their first transaction starts. A transaction left open by an
//! instance that died keeps its documents locked until the database expires it (60 s of idle
//! time by default, on MongoDB as on the embedded store); when a survivor finds the instance
//! dead, it ends those transactions at once with `killSessions` on every cluster.
//!
//! The driver pools server sessions, so an instance uses about as many lsids as it runs
//! transactions concurrently: recording costs one catalog write per new lsid, not per
//! transaction. The list kept per instance is bounded.
//!
//! It also knows which sessions are inside a transaction on which tenant right now
//! (`in_transaction`), so a deletion can end this instance's own stragglers before it drops the
//! database instead of racing them.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

use crate::TenantKey;

use mongodb::bson::{Binary, Bson, Document, doc};
use mongodb::{Client, Collection};

/// How many lsids an instance record keeps (the most recent ones).
const KEPT: i32 = 4096;

#[derive(Clone, Default)]
pub struct SessionLog {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    known: Mutex<HashSet<Vec<u8>>>,
    sink: OnceLock<Sink>,
    /// Sessions inside a transaction, by tenant: lsid bytes → lsid.
    busy: Mutex<HashMap<TenantKey, HashMap<Vec<u8>, Binary>>>,
}

/// A session marked as inside a transaction on a tenant until this is dropped.
pub struct InTransaction {
    log: SessionLog,
    key: TenantKey,
    id: Option<Binary>,
}

impl Drop for InTransaction {
    fn drop(&mut self) {
        let Some(id) = &self.id else { return };
        if let Ok(mut busy) = self.log.inner.busy.lock()
            && let Some(sessions) = busy.get_mut(&self.key)
        {
            sessions.remove(&id.bytes);
            if sessions.is_empty() {
                busy.remove(&self.key);
            }
        }
    }
}

struct Sink {
    instances: Collection<Document>,
    instance: String,
}

impl std::fmt::Debug for SessionLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let known = self.inner.known.lock().map_or(0, |k| k.len());
        f.debug_struct("SessionLog").field("known", &known).finish()
    }
}

impl SessionLog {
    /// Starts writing lsids to `instance`'s record (once; the fleet registration calls it).
    pub(crate) fn attach(&self, instances: Collection<Document>, instance: String) {
        let _ = self.inner.sink.set(Sink {
            instances,
            instance,
        });
    }

    /// Records the session's lsid if this instance has not recorded it before. A failure to
    /// record is logged, not returned: the transaction may still run (its lsid is just not
    /// killable by others if this instance dies in it).
    pub async fn record(&self, lsid: &Document) {
        let Some(Bson::Binary(id)) = lsid.get("id") else {
            return;
        };
        let Some(sink) = self.inner.sink.get() else {
            return;
        };
        let fresh = self
            .inner
            .known
            .lock()
            .is_ok_and(|mut known| known.insert(id.bytes.clone()));
        if !fresh {
            return;
        }
        let update =
            doc! {"$push": {"sessions": {"$each": [Bson::Binary(id.clone())], "$slice": -KEPT}}};
        if let Err(e) = sink
            .instances
            .update_one(doc! {"_id": &sink.instance}, update)
            .await
        {
            tracing::warn!(error = %e, "cannot record a session id in the catalog");
            if let Ok(mut known) = self.inner.known.lock() {
                known.remove(&id.bytes);
            }
        }
    }
}

impl SessionLog {
    /// Marks the session (`lsid`) as inside a transaction on `key` while the guard lives.
    pub fn in_transaction(&self, key: &TenantKey, lsid: &Document) -> InTransaction {
        let id = match lsid.get("id") {
            Some(Bson::Binary(id)) => Some(id.clone()),
            _ => None,
        };
        if let (Some(id), Ok(mut busy)) = (&id, self.inner.busy.lock()) {
            busy.entry(key.clone())
                .or_default()
                .insert(id.bytes.clone(), id.clone());
        }
        InTransaction {
            log: self.clone(),
            key: key.clone(),
            id,
        }
    }

    /// The sessions of this instance inside a transaction on `key` now.
    pub fn busy_on(&self, key: &TenantKey) -> Vec<Binary> {
        self.inner
            .busy
            .lock()
            .map(|busy| {
                busy.get(key)
                    .map(|s| s.values().cloned().collect())
                    .unwrap_or_default()
            })
            .unwrap_or_default()
    }
}

/// Ends the given sessions (and so aborts their open transactions) on one cluster.
pub async fn kill_sessions(client: &Client, sessions: &[Binary]) -> mongodb::error::Result<()> {
    if sessions.is_empty() {
        return Ok(());
    }
    let ids: Vec<Document> = sessions
        .iter()
        .map(|b| doc! {"id": Bson::Binary(b.clone())})
        .collect();
    client
        .database("admin")
        .run_command(doc! {"killSessions": ids})
        .await?;
    Ok(())
}
