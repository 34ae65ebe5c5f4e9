//! The write side's unit of work: one call that runs a command's changes in a transaction with
//! everything a command owes the rest of the system.
//!
//! ```ignore
//! self.unit.commit(envelope, &db, key, |mut session| async move {
//!     // Conditional updates in the session; new documents are handed back, not inserted:
//!     // Changes::of(value, events)?.inserting(ORDERS, &order)
//!     let result = change_the_write_model(&mut session).await;
//!     (session, result)
//! }).await
//! ```
//!
//! A tenant's commands take turns in this process (`lanes`), so they do not collide on the
//! tenant's outbox counter. In one transaction: run the work, take the events' positions
//! (passing the tenant's fence), then insert the `Idempotency-Key` record (if any), the work's
//! new documents and the events in one round trip (`bulk`). After commit the projector is nudged. Conflicts are retried within
//! the transaction deadline; a duplicate of a committed request is answered from its record.
//!
//! Round trips of a command: its own reads and updates, one for the positions, one for all the
//! inserts, one for the commit (a one-line order: 4, with or without a key).

pub(crate) mod idempotency;
mod lanes;

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use mongodb::ClientSession;
use mongodb::bson::{Document, to_document};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tenancy::clusters::TenantDb;
use tenancy::meta::META;
use tenancy::transaction::{self, Abandoned, DEADLINE, DriverError};

pub use idempotency::{IDEMPOTENCY_RECORDS, IdempotencyKey};

use crate::Envelope;
use crate::bulk::{InsertFailed, Inserts};
use crate::outbox::{self, NewEvent, OUTBOX};
use crate::projector::Projector;

/// What a command's work changed: its result, the events to append and the new documents the
/// unit of work inserts with them.
#[derive(Debug, Clone)]
pub struct Changes<T> {
    pub value: T,
    pub events: Vec<NewEvent>,
    pub inserts: Vec<(&'static str, Document)>,
}

impl<T> Changes<T> {
    pub fn new(value: T, events: Vec<NewEvent>) -> Changes<T> {
        Changes {
            value,
            events,
            inserts: Vec::new(),
        }
    }

    /// A new document for `collection`, inserted in the same round trip as the events. For
    /// documents whose unique keys cannot be taken (generated ids): a duplicate key here is a
    /// database error, not a domain answer.
    pub fn inserting<D: Serialize>(
        mut self,
        collection: &'static str,
        document: &D,
    ) -> Result<Changes<T>, mongodb::bson::ser::Error> {
        self.inserts.push((collection, to_document(document)?));
        Ok(self)
    }

    /// The result and the domain events (a `{type, payload}`-tagged enum) it produced.
    pub fn of<E: Serialize>(
        value: T,
        events: impl IntoIterator<Item = E>,
    ) -> Result<Changes<T>, mongodb::bson::ser::Error> {
        let events = events
            .into_iter()
            .map(|e| NewEvent::of(&e))
            .collect::<Result<_, _>>()?;
        Ok(Changes::new(value, events))
    }
}

/// What a command did: its result and the position of the last event it appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed<T> {
    pub value: T,
    pub position: i64,
    /// True when this is the recorded response of an earlier request with the same key.
    pub replayed: bool,
}

/// Why the unit of work did not commit (the domain's own errors aside).
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The tenant's writes are fenced: its incarnation is being deleted, or a move is cutting
    /// it over to another cluster (the command bus waits for that and runs the command again).
    #[error("the tenant's writes are fenced (being deleted, or moved)")]
    Fenced,
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyKeyReused,
    /// A request with the same key is still being processed (or its transaction was left
    /// open by a crash and has not been ended yet).
    #[error("a request with this Idempotency-Key is still in flight")]
    IdempotencyKeyInFlight,
    #[error("version mismatch: the current version is {current}")]
    VersionMismatch { current: i64 },
    #[error(transparent)]
    Abandoned(#[from] Abandoned),
    #[error("database error")]
    Database(#[from] mongodb::error::Error),
    #[error("stored document is malformed")]
    Decode(#[from] mongodb::bson::de::Error),
    #[error("document cannot be encoded")]
    Encode(#[from] mongodb::bson::ser::Error),
    /// A new document's unique key was taken (see `Changes::inserting`).
    #[error("a new document's unique key is taken")]
    DuplicateKey,
    /// Internal: the key is held by a committed request; answered by replaying it.
    #[error("idempotency key taken")]
    KeyTaken,
}

impl tenancy::moves::Relocatable for CommandError {
    fn stopped(&self) -> Option<tenancy::moves::Stopped> {
        matches!(self, CommandError::Fenced).then_some(tenancy::moves::Stopped::Fenced)
    }
}

impl DriverError for CommandError {
    fn driver_error(&self) -> Option<&mongodb::error::Error> {
        match self {
            CommandError::Database(e) => Some(e),
            _ => None,
        }
    }
}

/// `If-Match`: `Err` when the client's expected version is not the current one.
pub fn check_version(expected: Option<i64>, current: i64) -> Result<(), CommandError> {
    match expected {
        Some(v) if v != current => Err(CommandError::VersionMismatch { current }),
        _ => Ok(()),
    }
}

/// Inside the transaction: the domain's error or ours.
enum Flow<E> {
    Domain(E),
    Command(CommandError),
}

impl<E> From<mongodb::error::Error> for Flow<E> {
    fn from(e: mongodb::error::Error) -> Self {
        Flow::Command(CommandError::Database(e))
    }
}

impl<E> From<mongodb::bson::ser::Error> for Flow<E> {
    fn from(e: mongodb::bson::ser::Error) -> Self {
        Flow::Command(CommandError::Encode(e))
    }
}

impl<E> From<Abandoned> for Flow<E> {
    fn from(e: Abandoned) -> Self {
        Flow::Command(CommandError::Abandoned(e))
    }
}

impl<E: DriverError> DriverError for Flow<E> {
    fn driver_error(&self) -> Option<&mongodb::error::Error> {
        match self {
            Flow::Domain(e) => e.driver_error(),
            Flow::Command(e) => e.driver_error(),
        }
    }
}

/// Commits commands' changes (see the module documentation).
#[derive(Clone)]
pub struct UnitOfWork {
    projector: Projector,
    lanes: Arc<lanes::Lanes>,
}

impl UnitOfWork {
    pub fn new(projector: Projector) -> UnitOfWork {
        UnitOfWork {
            projector,
            lanes: Arc::default(),
        }
    }

    pub async fn commit<M, T, E, F, Fut>(
        &self,
        envelope: &Envelope<M>,
        db: &TenantDb,
        key: Option<&IdempotencyKey>,
        work: F,
    ) -> Result<Committed<T>, E>
    where
        T: Serialize + DeserializeOwned,
        E: From<CommandError> + DriverError,
        F: Fn(ClientSession) -> Fut + Copy,
        Fut: Future<Output = (ClientSession, Result<Changes<T>, E>)>,
    {
        let database = db.database();
        let started = Instant::now();
        let Some(turn) = self.lanes.turn(database.name(), DEADLINE).await else {
            let elapsed = started.elapsed();
            return Err(CommandError::Abandoned(Abandoned::Queued { elapsed }).into());
        };
        let result = transaction::run_since(db, started, |session| async move {
            let (mut session, changed) = work(session).await;
            let committed = async {
                let changes = changed.map_err(Flow::Domain)?;
                let position = outbox::reserve(database, &mut session, changes.events.len())
                    .await?
                    .map_err(|_| Flow::Command(CommandError::Fenced))?;
                let mut inserts = Inserts::new(database);
                if let Some(key) = key {
                    inserts.push(META, idempotency::record(key, &changes.value, position)?);
                }
                for (collection, document) in changes.inserts {
                    inserts.push(collection, document);
                }
                for event in outbox::stored(envelope, &changes.events, position) {
                    inserts.push(OUTBOX, to_document(&event)?);
                }
                inserts.execute(&mut session).await.map_err(|e| match e {
                    InsertFailed::Duplicate { collection }
                        if key.is_some() && collection.as_deref().is_none_or(|c| c == META) =>
                    {
                        Flow::Command(CommandError::KeyTaken)
                    }
                    InsertFailed::Duplicate { .. } => Flow::Command(CommandError::DuplicateKey),
                    InsertFailed::Database(e) => Flow::from(e),
                })?;
                Ok(Committed {
                    value: changes.value,
                    position,
                    replayed: false,
                })
            }
            .await;
            (session, committed)
        })
        .await;
        drop(turn);
        match result {
            Ok(committed) => {
                self.projector
                    .nudge(envelope.ctx().tenant(), committed.position);
                Ok(committed)
            }
            // A domain answer to a keyed request may be the first request's doing (its sku,
            // its stock): a committed request with this key is answered from its record.
            Err(Flow::Domain(e)) => match key {
                Some(key) => match idempotency::recorded(database, key).await {
                    Ok(Some(replay)) => Ok(replay),
                    Err(reused @ CommandError::IdempotencyKeyReused) => Err(reused.into()),
                    Ok(None) | Err(_) => Err(e),
                },
                None => Err(e),
            },
            Err(Flow::Command(CommandError::KeyTaken)) => match key {
                Some(key) => idempotency::recorded(database, key)
                    .await?
                    // Expired between the insert and this read: the client may simply retry.
                    .ok_or_else(|| CommandError::IdempotencyKeyInFlight.into()),
                None => Err(CommandError::KeyTaken.into()),
            },
            Err(Flow::Command(e)) => Err(e.into()),
        }
    }
}
