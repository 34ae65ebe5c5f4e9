//! `Projection`: turns outbox events into read models.
//!
//! A projection does not talk to the database: for a run of events it says which writes bring
//! its read models up to date (`Writes`), and the projector executes the writes of every
//! projection of a batch, with their checkpoints, in one `bulkWrite` inside the batch's
//! transaction. So a batch costs the same few round trips whatever its size, and a projection
//! is a pure function that is tested without a database.

use mongodb::bson::{Bson, Document, doc};
use serde::de::DeserializeOwned;
use tenancy::migrations::CollectionSpec;
use tenancy::transaction::{Abandoned, DriverError};

use crate::outbox::StoredEvent;

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

/// One write to a read model (named logically; the projector picks the generation).
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// Replace the document with this `_id` by `document`, inserting it if missing.
    Put { id: Bson, document: Document },
    /// Apply `update` to the document with this `_id`; insert it first if `upsert`.
    Update {
        id: Bson,
        update: Document,
        upsert: bool,
    },
    /// Delete the document with this `_id`.
    Delete { id: Bson },
}

/// The writes a projection asks for, in order, per read model.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Writes {
    pub(crate) ops: Vec<(&'static str, Write)>,
}

impl Writes {
    pub fn put(&mut self, read_model: &'static str, id: impl Into<Bson>, document: Document) {
        self.ops.push((
            read_model,
            Write::Put {
                id: id.into(),
                document,
            },
        ));
    }

    /// `update` (an update document: `$set`, `$inc`, ...) on an existing document.
    pub fn update(&mut self, read_model: &'static str, id: impl Into<Bson>, update: Document) {
        self.ops.push((
            read_model,
            Write::Update {
                id: id.into(),
                update,
                upsert: false,
            },
        ));
    }

    /// `update` on the document, inserting it (with `_id` and `$setOnInsert` fields) if missing.
    pub fn upsert(&mut self, read_model: &'static str, id: impl Into<Bson>, update: Document) {
        self.ops.push((
            read_model,
            Write::Update {
                id: id.into(),
                update,
                upsert: true,
            },
        ));
    }

    pub fn delete(&mut self, read_model: &'static str, id: impl Into<Bson>) {
        self.ops.push((read_model, Write::Delete { id: id.into() }));
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// The writes, for tests of projections.
    pub fn ops(&self) -> &[(&'static str, Write)] {
        &self.ops
    }
}

impl Write {
    /// The `_id` filter of the write.
    pub(crate) fn filter(&self) -> Document {
        match self {
            Write::Put { id, .. } | Write::Update { id, .. } | Write::Delete { id } => {
                doc! {"_id": id.clone()}
            }
        }
    }
}

/// A read model built from the domain's events.
///
/// `Event` is the domain's event enum (serde, `{type, payload}`-tagged, with an `#[serde(other)]`
/// variant for the types of other domains): the projector decodes each outbox event into it, an
/// event that does not decode being poison.
pub trait Projection: Send + Sync + 'static {
    type Event: DeserializeOwned;

    /// Stable name: the key of its checkpoint.
    const NAME: &'static str;

    /// The read models it owns, with their indexes (created for every generation).
    const READ_MODELS: &'static [CollectionSpec];

    /// Adds to `writes` what `events` (in position order, each applied exactly once) change in
    /// its read models. Event types it does not use are ignored; an event it cannot apply is
    /// `Poison` (it is then dead-lettered, the projection moves on).
    fn project(&self, events: &[Self::Event], writes: &mut Writes) -> Result<(), ProjectionError>;
}

/// A projection as the projector runs it, whatever its event type: it decodes the stored
/// events first (every `Projection` is one).
pub trait ProjectStored: Send + Sync + 'static {
    fn name(&self) -> &'static str;

    fn read_models(&self) -> &'static [CollectionSpec];

    fn project_stored(
        &self,
        events: &[&StoredEvent],
        writes: &mut Writes,
    ) -> Result<(), ProjectionError>;
}

impl<P: Projection> ProjectStored for P {
    fn name(&self) -> &'static str {
        P::NAME
    }

    fn read_models(&self) -> &'static [CollectionSpec] {
        P::READ_MODELS
    }

    fn project_stored(
        &self,
        events: &[&StoredEvent],
        writes: &mut Writes,
    ) -> Result<(), ProjectionError> {
        let decoded = events
            .iter()
            .map(|event| event.decode::<P::Event>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(ProjectionError::Poison)?;
        self.project(&decoded, writes)
    }
}
