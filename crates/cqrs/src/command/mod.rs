//! The write side's unit of work: one call that runs a command's changes in a transaction with
//! everything a command owes the rest of the system.
//!
//! ```ignore
//! self.unit.commit(envelope, &db, key, |mut session| async move {
//!     let result = change_the_write_model(&mut session).await; // -> Changes { value, events }
//!     (session, result)
//! }).await
//! ```
//!
//! In one transaction: claim the `Idempotency-Key` (if any), run the work, append its events
//! to the outbox (passing the tenant's fence), record the response on the key. After commit the
//! projector is nudged. Conflicts are retried within the transaction deadline; a duplicate of a
//! committed request is answered from its record.

mod idempotency;

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};

use mongodb::ClientSession;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tenancy::clusters::TenantDb;
use tenancy::transaction::{self, Abandoned, DriverError};

pub use idempotency::IdempotencyKey;

use crate::Envelope;
use crate::outbox::{self, NewEvent};
use crate::projector::Projector;

/// What a command's work changed: its result and the events to append.
#[derive(Debug, Clone)]
pub struct Changes<T> {
    pub value: T,
    pub events: Vec<NewEvent>,
}

impl<T> Changes<T> {
    pub fn new(value: T, events: Vec<NewEvent>) -> Changes<T> {
        Changes { value, events }
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
        Ok(Changes { value, events })
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
    /// The tenant's incarnation is being deleted: nothing more of it commits.
    #[error("the tenant is being deleted")]
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
    /// Internal: the key is held by a committed request; answered by replaying it.
    #[error("idempotency key taken")]
    KeyTaken,
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
}

impl UnitOfWork {
    pub fn new(projector: Projector) -> UnitOfWork {
        UnitOfWork { projector }
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
        let claim_conflicted = &AtomicBool::new(false);
        let result = transaction::run(db, |mut session| async move {
            if let Some(key) = key {
                match idempotency::claim(database, &mut session, key).await {
                    Ok(idempotency::Claim::Claimed) => {}
                    Ok(idempotency::Claim::Taken) => {
                        return (session, Err(Flow::Command(CommandError::KeyTaken)));
                    }
                    Err(e) => {
                        claim_conflicted.store(true, Ordering::Relaxed);
                        return (session, Err(Flow::from(e)));
                    }
                }
            }
            let (mut session, changed) = work(session).await;
            let committed = async {
                let changes = changed.map_err(Flow::Domain)?;
                let position = outbox::append(database, &mut session, envelope, &changes.events)
                    .await?
                    .map_err(|_| Flow::Command(CommandError::Fenced))?;
                if let Some(key) = key {
                    idempotency::complete(database, &mut session, key, &changes.value, position)
                        .await
                        .map_err(Flow::Command)?;
                }
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
        match result {
            Ok(committed) => {
                self.projector
                    .nudge(envelope.ctx().tenant(), committed.position);
                Ok(committed)
            }
            Err(Flow::Domain(e)) => Err(e),
            Err(Flow::Command(CommandError::KeyTaken)) => match key {
                Some(key) => Ok(idempotency::replay(database, key).await?),
                None => Err(CommandError::KeyTaken.into()),
            },
            Err(Flow::Command(CommandError::Abandoned(_)))
                if claim_conflicted.load(Ordering::Relaxed) =>
            {
                Err(CommandError::IdempotencyKeyInFlight.into())
            }
            Err(Flow::Command(e)) => Err(e.into()),
        }
    }
}
