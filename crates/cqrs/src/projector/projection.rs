//! `Projection`: turns outbox events into read models.

use futures::future::BoxFuture;
use mongodb::{ClientSession, Collection, Database};
use tenancy::migrations::CollectionSpec;
use tenancy::transaction::{Abandoned, DriverError};

use crate::outbox::StoredEvent;
use crate::read_models::{Generation, collection_name};

#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// The database failed; the event is retried later.
    #[error("database error")]
    Database(#[from] mongodb::error::Error),
    /// The event cannot be applied (malformed, unknown, violates an invariant): it goes to the
    /// tenant's dead-letter collection and the projection moves on.
    #[error("poison event: {0}")]
    Poison(String),
    /// This writer may not write the tenant's projections: its lease was taken over (a larger
    /// fencing token is recorded), or the tenant is being deleted, or another rebuild took over.
    #[error("fenced: {0}")]
    Fenced(&'static str),
    /// A checkpoint moved under this batch (another writer); the batch is read again.
    #[error("a checkpoint moved under this batch")]
    Stale,
    /// A rebuild of this tenant is already running.
    #[error("a rebuild of this tenant is in progress")]
    RebuildInProgress,
    #[error(transparent)]
    Abandoned(#[from] Abandoned),
    #[error("stored document is malformed")]
    Decode(#[from] mongodb::bson::de::Error),
    #[error("document cannot be encoded")]
    Encode(#[from] mongodb::bson::ser::Error),
}

impl DriverError for ProjectionError {
    fn driver_error(&self) -> Option<&mongodb::error::Error> {
        match self {
            ProjectionError::Database(e) => Some(e),
            _ => None,
        }
    }
}

/// The read models a projection writes in one batch: its logical names resolved to the
/// generation being written (the live one, or a rebuild's new one).
pub struct ReadModels<'a> {
    db: &'a Database,
    generation: Generation,
}

impl<'a> ReadModels<'a> {
    pub(crate) fn new(db: &'a Database, generation: Generation) -> ReadModels<'a> {
        ReadModels { db, generation }
    }

    pub fn collection<T: Send + Sync>(&self, read_model: &str) -> Collection<T> {
        self.db
            .collection(&collection_name(read_model, self.generation))
    }
}

/// A read model built from events. `apply` runs inside a transaction (with the checkpoint
/// update), in position order, exactly once per event and generation.
pub trait Projection: Send + Sync + 'static {
    /// Stable name: the key of its checkpoint.
    fn name(&self) -> &'static str;

    /// The read models it owns, with their indexes (created for every generation).
    fn read_models(&self) -> &'static [CollectionSpec];

    fn apply<'a>(
        &'a self,
        models: &'a ReadModels<'a>,
        session: &'a mut ClientSession,
        event: &'a StoredEvent,
    ) -> BoxFuture<'a, Result<(), ProjectionError>>;
}
