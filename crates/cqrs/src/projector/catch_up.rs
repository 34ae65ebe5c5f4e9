//! Bringing one tenant's live read models up to date with its outbox, batch after batch, for
//! as long as this instance holds the tenant's lease.

use std::sync::Arc;

use mongodb::bson::DateTime;
use tenancy::clusters::TenantDb;
use tenancy::fleet::Fence;
use tracing::Instrument;

use super::batch::{self, Batch, Track};
use super::projection::{ProjectStored, ProjectionError};

/// What one catch-up did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CatchUp {
    pub events: u64,
    pub dead_letters: u64,
    /// When the last event applied was written (for the projection-delay gauge).
    pub last_event_at: Option<DateTime>,
    /// The position every projection has reached (when it caught up).
    pub position: i64,
    /// The read models applied events the outbox no longer has (the database lost
    /// acknowledged events): they must be rebuilt from the outbox.
    pub diverged: bool,
    /// It stopped because the lease ran out locally (another instance may hold it now).
    pub lease_lost: bool,
}

pub(crate) async fn catch_up(
    db: &TenantDb,
    projections: &[Arc<dyn ProjectStored>],
    fence: Fence,
) -> Result<CatchUp, ProjectionError> {
    let track = Track::Live { token: fence.token };
    let mut done = CatchUp::default();
    loop {
        if !fence.is_current() {
            done.lease_lost = true;
            return Ok(done);
        }
        let span = tracing::info_span!("projector.batch", events = tracing::field::Empty);
        match batch::run(db, projections, track)
            .instrument(span.clone())
            .await
        {
            Ok(Batch::Applied {
                events,
                last_at,
                position,
                drained,
            }) => {
                span.record("events", events);
                done.events += events;
                done.last_event_at = Some(last_at);
                // No batch just to find nothing: an event committed after this batch's
                // snapshot marks the tenant again (a nudge, or the change stream).
                if drained {
                    done.position = position;
                    return Ok(done);
                }
            }
            Ok(Batch::CaughtUp { position, diverged }) => {
                done.position = position;
                done.diverged = diverged;
                return Ok(done);
            }
            Ok(Batch::Switched { .. }) => return Ok(done),
            Err(ProjectionError::Poison(_)) => {
                done.dead_letters += batch::isolate_poison(db, projections, track).await?;
            }
            Err(ProjectionError::Stale) => continue,
            Err(e) => return Err(e),
        }
    }
}
