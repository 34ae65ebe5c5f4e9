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
//! tenant's outbox counter, and the ones that queue up commit together (`group`). In one
//! transaction: run each command's work, take the events' positions (passing the tenant's
//! fence), then insert the `Idempotency-Key` records (if any), the work's new documents and the
//! events in one round trip (`bulk`). After commit the projector is nudged. Conflicts are
//! retried within the transaction deadline; a duplicate of a committed request is answered from
//! its record.
//!
//! Round trips of a command alone: its own reads and updates, one for the positions, one for all
//! the inserts, one for the commit (a one-line order: 4, with or without a key). Of a group: the
//! commands' own reads and updates, plus those three once.

mod group;
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
use tenancy::transaction::{self, Abandoned, DriverError};

pub use idempotency::{IDEMPOTENCY_RECORDS, IdempotencyKey};

use crate::Envelope;
use crate::outbox::{self, NewEvent};
use crate::projector::Projector;
use group::{GroupFailure, Member, Prepared, Reply, Verdict, Waited};
use lanes::{LaneKey, Lanes, Mailbox};

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
    /// database error, not a domain answer. Inserted when the command's group commits, so the
    /// commands after it in its group do not see it: no command may read, or rely on the
    /// absence of, documents that others insert this way (the write model's own documents are
    /// written in the work, where the commands after it see them).
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
    /// Internal: the command's group ended without its result (a defect, never expected).
    #[error("the command's result was lost in its group")]
    Lost,
}

impl From<GroupFailure> for CommandError {
    fn from(failure: GroupFailure) -> Self {
        match failure {
            GroupFailure::Fenced => CommandError::Fenced,
            GroupFailure::Abandoned(a) => CommandError::Abandoned(a),
            GroupFailure::Database(e) => CommandError::Database(e),
            GroupFailure::Duplicate { .. } => CommandError::DuplicateKey,
        }
    }
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

/// Commits commands' changes (see the module documentation).
#[derive(Clone)]
pub struct UnitOfWork {
    projector: Projector,
    lanes: Arc<Lanes>,
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
        let mut command = Command {
            envelope,
            key,
            work,
            outcome: None,
        };
        let lane = LaneKey::new(db.cluster(), db.database().name());
        let started = Instant::now();
        let verdict = loop {
            let waited = match self.lanes.join(&lane, started) {
                None => Waited::Lead,
                Some(inbox) => {
                    let lanes = &self.lanes;
                    let mut mailbox = Mailbox {
                        inbox,
                        lanes,
                        lane: &lane,
                    };
                    let waited = group::wait(&mut command, &mut mailbox, started).await;
                    metrics::histogram!("tenantry_command_lane_wait_seconds")
                        .record(started.elapsed().as_secs_f64());
                    waited
                }
            };
            match waited {
                Waited::Verdict(verdict) => break verdict,
                Waited::Lead => {
                    break group::lead(&mut command, db, &self.lanes, &lane, started).await;
                }
                // Nothing of it was committed: it queues again.
                Waited::Orphaned => {}
            }
        };
        let database = db.database();
        let failure = match verdict {
            Verdict::Committed { last } => match command.outcome {
                Some(Ok(value)) => {
                    self.projector.nudge(envelope.ctx().tenant(), last);
                    return Ok(Committed {
                        value,
                        position: last,
                        replayed: false,
                    });
                }
                _ => return Err(CommandError::Lost.into()),
            },
            Verdict::OwnFailure => match command.outcome {
                Some(Err(e)) => e,
                _ => return Err(CommandError::Lost.into()),
            },
            Verdict::Failed(GroupFailure::Duplicate { collection }) => match key {
                // The key's record is taken: a committed request holds the key.
                Some(key) if collection.as_deref().is_none_or(|c| c == META) => {
                    return idempotency::recorded(database, key)
                        .await?
                        // Expired between the insert and this read: the client may retry.
                        .ok_or_else(|| CommandError::IdempotencyKeyInFlight.into());
                }
                _ => return Err(CommandError::DuplicateKey.into()),
            },
            Verdict::Failed(failure) => return Err(CommandError::from(failure).into()),
        };
        match key {
            // A failure of a keyed request may be the first request's doing (its sku, its
            // stock, its key's record): a committed request with this key is answered from its
            // record.
            Some(key) => match idempotency::recorded(database, key).await {
                Ok(Some(replay)) => Ok(replay),
                Err(reused @ CommandError::IdempotencyKeyReused) => Err(reused.into()),
                Ok(None) | Err(_) => Err(failure),
            },
            None => Err(failure),
        }
    }
}

/// One command in its lane: its work, and its outcome once the work ran.
struct Command<'a, M, T, E, F> {
    envelope: &'a Envelope<M>,
    key: Option<&'a IdempotencyKey>,
    work: F,
    outcome: Option<Result<T, E>>,
}

impl<M, T, E, F, Fut> Member for Command<'_, M, T, E, F>
where
    T: Serialize,
    E: From<CommandError> + DriverError,
    F: Fn(ClientSession) -> Fut,
    Fut: Future<Output = (ClientSession, Result<Changes<T>, E>)>,
{
    async fn run(&mut self, session: ClientSession) -> (ClientSession, Reply) {
        let (session, changed) = (self.work)(session).await;
        let prepared = changed.and_then(|changes| {
            let prepared = self.prepare(&changes.value, &changes.events, changes.inserts);
            Ok((changes.value, prepared.map_err(CommandError::Encode)?))
        });
        let reply = match prepared {
            Ok((value, prepared)) => {
                self.outcome = Some(Ok(value));
                Reply::Ready(prepared)
            }
            Err(e) => {
                let transient = transaction::is_transient(&e);
                self.outcome = Some(Err(e));
                Reply::Failed { transient }
            }
        };
        (session, reply)
    }
}

impl<M, T: Serialize, E, F> Command<'_, M, T, E, F> {
    /// The documents the changes insert (positions are the group's to give).
    fn prepare(
        &self,
        value: &T,
        events: &[NewEvent],
        inserts: Vec<(&'static str, Document)>,
    ) -> Result<Prepared, mongodb::bson::ser::Error> {
        let record = self
            .key
            .map(|key| idempotency::record(key, value, 0))
            .transpose()?;
        let events = outbox::stored(self.envelope, events, events.len() as i64)
            .iter()
            .map(to_document)
            .collect::<Result<_, _>>()?;
        Ok(Prepared {
            record,
            inserts,
            events,
        })
    }
}
