//! One tenant's commands take turns in this process instead of colliding in the database.
//!
//! Every command of a tenant writes the tenant's outbox counter, so two concurrent transactions
//! of one tenant always conflict: one of them is retried with backoff, and under a burst (a flash
//! sale) most attempts are wasted. Here a command waits for its tenant's lane before its
//! transaction starts, so within one process they run back to back and none is retried. Lanes
//! are a fixed set of mutexes chosen by a hash of the tenant database's name: memory does not
//! grow with the number of tenants, and two tenants that share a lane only take turns.
//!
//! This is a throughput measure, not a correctness one: with several instances the commands of
//! one tenant still meet in the database, whose conflicts and the retries of
//! `tenancy::transaction` keep them correct. Waiting for a lane counts against the command's
//! transaction deadline.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, MutexGuard};

/// Lanes per process: few enough to be free, enough that busy tenants rarely share one.
const LANES: usize = 1024;

/// A tenant's turn to run a command (held until its transaction ends).
pub(crate) type Turn<'a> = MutexGuard<'a, ()>;

pub(crate) struct Lanes {
    lanes: Box<[Mutex<()>]>,
}

impl Default for Lanes {
    fn default() -> Lanes {
        Lanes {
            lanes: (0..LANES).map(|_| Mutex::new(())).collect(),
        }
    }
}

impl Lanes {
    /// Waits for `database`'s lane, for at most `patience`; `None` when it did not come.
    pub async fn turn(&self, database: &str, patience: Duration) -> Option<Turn<'_>> {
        let lane = &self.lanes[lane_of(database)];
        if let Ok(turn) = lane.try_lock() {
            return Some(turn);
        }
        let waiting = Instant::now();
        let turn = tokio::time::timeout(patience, lane.lock()).await.ok();
        metrics::histogram!("tenantry_command_lane_wait_seconds")
            .record(waiting.elapsed().as_secs_f64());
        turn
    }
}

fn lane_of(database: &str) -> usize {
    let mut hasher = DefaultHasher::new();
    database.hash(&mut hasher);
    (hasher.finish() % LANES as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_tenant_waits_for_its_own_lane_only() {
        let lanes = Lanes::default();
        let first = lanes.turn("t_a_1", Duration::from_secs(1)).await;
        assert!(first.is_some());
        // The same tenant waits (here: in vain, for 50 ms).
        let started = Instant::now();
        assert!(
            lanes
                .turn("t_a_1", Duration::from_millis(50))
                .await
                .is_none()
        );
        assert!(started.elapsed() >= Duration::from_millis(50));
        // Another tenant on another lane goes at once.
        let other = (0..)
            .map(|i| format!("t_b{i}_1"))
            .find(|db| lane_of(db) != lane_of("t_a_1"))
            .unwrap();
        assert!(lanes.turn(&other, Duration::ZERO).await.is_some());
        // Once the first turn ends, the tenant's next command goes.
        drop(first);
        assert!(lanes.turn("t_a_1", Duration::ZERO).await.is_some());
    }

    #[test]
    fn lanes_spread_tenants() {
        let used: std::collections::HashSet<usize> =
            (0..10_000).map(|i| lane_of(&format!("t_{i}_1"))).collect();
        assert!(used.len() > LANES * 9 / 10, "{} lanes used", used.len());
    }
}
