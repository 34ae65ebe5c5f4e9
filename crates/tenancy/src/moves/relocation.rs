//! What a command does when it finds its tenant's writes fenced: if a move of the tenant is
//! cutting over, it waits (bounded) for the move to switch or roll back, then runs again where
//! the tenant is now. A query that waited in vain for the projections (`X-Min-Position`) on a
//! cluster the tenant has just left runs again on the new one. It reads the catalog itself, not the cache: no instance has to agree with
//! another on anything for this to be right.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::{MoveState, record};
use crate::catalog::CatalogCache;
use crate::{TenantContext, TenantStatus};

/// How often a waiting command looks at the catalog.
const POLL: Duration = Duration::from_millis(20);

/// How a message was stopped that a move may explain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// A command found the tenant's writes fenced (a cut-over holds them, or the tenant left).
    Fenced,
    /// A query waited in vain for the projections (they run on the tenant's new cluster).
    Lagging,
}

/// An error that may be a move's doing: the bus then asks `Relocation::settle` and runs the
/// message again where the tenant is.
pub trait Relocatable {
    fn stopped(&self) -> Option<Stopped>;
}

#[derive(Clone, Debug)]
pub struct Relocation {
    catalog: CatalogCache,
    /// The longest a command waits for a cut-over.
    hold: Duration,
}

impl Relocation {
    pub fn new(catalog: CatalogCache, hold: Duration) -> Relocation {
        Relocation { catalog, hold }
    }

    /// After a message of `ctx` was stopped in a way a move explains (`why`): the tenant's
    /// context to run it again with, once a move has switched (the new placement) or, for
    /// writes, rolled back (the same); `None` when no move explains it (a deletion, a lagging
    /// projector), or the cut-over outlasted the hold.
    pub async fn settle(&self, ctx: &TenantContext, why: Stopped) -> Option<TenantContext> {
        let before = ctx.tenant();
        let store = self.catalog.store();
        let deadline = Instant::now() + self.hold;
        loop {
            // The move first, then the tenant: the switch changes both in one transaction, so a
            // move read as done is always followed by a placement read as switched.
            let move_ = record::load(store.database(), &before.key()).await.ok()??;
            let tenant = store.get(&before.id).await.ok()??;
            if tenant.key() != before.key()
                || !matches!(
                    tenant.status,
                    TenantStatus::Active | TenantStatus::Suspended
                )
            {
                return None;
            }
            let switched = tenant.cluster != before.cluster;
            match next_step(move_.state, why, switched) {
                Step::RunAgain => {
                    if switched {
                        self.catalog.invalidate(&tenant.id).await;
                    }
                    return Some(TenantContext::new(Arc::new(tenant), ctx.actor()));
                }
                Step::GiveUp => return None,
                Step::Wait => {}
            }
            if Instant::now() + POLL > deadline {
                return None;
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

/// What a stopped message does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Run again, where the catalog places the tenant now.
    RunAgain,
    /// Wait for the cut-over to end.
    Wait,
    /// No move explains it: answer the error.
    GiveUp,
}

/// The decision, from the tenant's move, why the message stopped, and whether the catalog
/// places the tenant elsewhere than the message ran.
fn next_step(state: MoveState, why: Stopped, switched: bool) -> Step {
    if switched {
        return Step::RunAgain;
    }
    match (state, why) {
        (MoveState::CuttingOver, _) => Step::Wait,
        // The fences of a failed move, or of one undone to run again, are open again.
        (MoveState::Failed | MoveState::Copying | MoveState::CatchingUp, Stopped::Fenced) => {
            Step::RunAgain
        }
        // A lagging projector of a tenant that has not moved: nothing a move explains.
        (MoveState::Failed | MoveState::Copying | MoveState::CatchingUp, Stopped::Lagging)
        | (MoveState::Done, _) => Step::GiveUp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_switched_tenant_is_followed_whatever_stopped_the_message() {
        for state in [MoveState::CuttingOver, MoveState::Done, MoveState::Failed] {
            for why in [Stopped::Fenced, Stopped::Lagging] {
                assert_eq!(next_step(state, why, true), Step::RunAgain);
            }
        }
    }

    #[test]
    fn a_cut_over_is_waited_for_and_a_rolled_back_one_retried_by_writes_only() {
        assert_eq!(
            next_step(MoveState::CuttingOver, Stopped::Fenced, false),
            Step::Wait
        );
        assert_eq!(
            next_step(MoveState::CuttingOver, Stopped::Lagging, false),
            Step::Wait
        );
        assert_eq!(
            next_step(MoveState::Failed, Stopped::Fenced, false),
            Step::RunAgain
        );
        assert_eq!(
            next_step(MoveState::Copying, Stopped::Fenced, false),
            Step::RunAgain
        );
        assert_eq!(
            next_step(MoveState::Copying, Stopped::Lagging, false),
            Step::GiveUp
        );
    }

    #[test]
    fn a_fence_on_a_tenant_that_did_not_move_is_not_a_moves_doing() {
        // Done but still on the same cluster: the fence is a deletion's.
        assert_eq!(
            next_step(MoveState::Done, Stopped::Fenced, false),
            Step::GiveUp
        );
        assert_eq!(
            next_step(MoveState::Done, Stopped::Lagging, false),
            Step::GiveUp
        );
    }
}
