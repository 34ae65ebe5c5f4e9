//! `Projection`: turns outbox events into a read model.

use futures::future::BoxFuture;
use mongodb::{ClientSession, Database};

use crate::outbox::StoredEvent;
use crate::transaction::DriverError;

#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// The database failed; the event is retried later.
    #[error("database error")]
    Database(#[from] mongodb::error::Error),
    /// The event cannot be applied (malformed, unknown, violates an invariant): it goes to the
    /// tenant's dead-letter collection and the projection moves on.
    #[error("poison event: {0}")]
    Poison(String),
}

impl DriverError for ProjectionError {
    fn driver_error(&self) -> Option<&mongodb::error::Error> {
        match self {
            ProjectionError::Database(e) => Some(e),
            ProjectionError::Poison(_) => None,
        }
    }
}

/// A read model built from events. `apply` runs inside a transaction (with the checkpoint
/// update), in position order, at most once per event.
pub trait Projection: Send + Sync + 'static {
    /// Stable name: the key of its checkpoint.
    fn name(&self) -> &'static str;

    /// The collections it owns (dropped and rebuilt by a rebuild).
    fn collections(&self) -> &'static [&'static str];

    fn apply<'a>(
        &'a self,
        db: &'a Database,
        session: &'a mut ClientSession,
        event: &'a StoredEvent,
    ) -> BoxFuture<'a, Result<(), ProjectionError>>;
}
