//! Whether a cluster's change stream is open, for readiness: a projector whose stream cannot
//! open applies nothing but the nudges of this instance's own commands. The cause of a failure
//! goes to the log only (readiness is unauthenticated).

use std::time::Instant;

/// The state of one cluster's change stream on this instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedState {
    /// Not opened yet (the process is starting).
    Opening,
    /// Open, and the tenants written before it opened have been swept.
    Streaming,
    /// The stream failed and is being reopened with backoff, since the first failure in a row.
    Reopening { since: Instant },
}

impl FeedState {
    /// The stream failed (again).
    pub(super) fn failed(&self) -> FeedState {
        let since = match self {
            FeedState::Reopening { since } => *since,
            _ => Instant::now(),
        };
        FeedState::Reopening { since }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_in_a_row_keep_the_first_time_and_a_recovery_resets_it() {
        let first = FeedState::Streaming.failed();
        let FeedState::Reopening { since } = first else {
            panic!("not reopening: {first:?}")
        };
        assert_eq!(first.failed(), FeedState::Reopening { since });
        std::thread::sleep(std::time::Duration::from_millis(2));
        let after_recovery = FeedState::Streaming.failed();
        assert!(matches!(after_recovery, FeedState::Reopening { since: s } if s > since));
    }
}
