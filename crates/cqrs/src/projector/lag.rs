//! What each cluster's worker has yet to apply, for the lag metrics: per tenant, since when it
//! has had unapplied events and the highest position seen. Fed by the change stream and by
//! nudges (not by the worker), so a stuck worker shows as a growing lag.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tenancy::TenantId;

#[derive(Debug, Clone, Copy)]
struct Entry {
    since: Instant,
    seen: i64,
    applied: i64,
}

/// The tenants of one cluster with events not yet applied.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    tenants: HashMap<TenantId, Entry>,
}

/// A cluster's lag: the age of the oldest event not yet applied, and how many there are.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Lag {
    pub seconds: f64,
    pub events: i64,
}

impl Pending {
    /// An event at `position` (when known) is waiting for `id`.
    pub fn saw(&mut self, id: &TenantId, position: Option<i64>) {
        let entry = self.tenants.entry(id.clone()).or_insert(Entry {
            since: Instant::now(),
            seen: 0,
            applied: 0,
        });
        if let Some(p) = position {
            entry.seen = entry.seen.max(p);
        }
    }

    /// `id`'s projections reached `position`.
    pub fn applied(&mut self, id: &TenantId, position: i64) {
        if let Some(entry) = self.tenants.get_mut(id) {
            entry.applied = entry.applied.max(position);
            if entry.seen <= position {
                self.tenants.remove(id);
            }
        }
    }

    /// Forgets tenants this instance no longer works on.
    pub fn retain(&mut self, keep: impl Fn(&TenantId) -> bool) {
        self.tenants.retain(|id, _| keep(id));
    }

    pub fn len(&self) -> usize {
        self.tenants.len()
    }

    pub fn lag(&self) -> Lag {
        let oldest = self.tenants.values().map(|e| e.since).min();
        Lag {
            seconds: oldest.map_or(Duration::ZERO, |t| t.elapsed()).as_secs_f64(),
            events: self
                .tenants
                .values()
                .map(|e| (e.seen - e.applied).max(0))
                .sum(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_grows_until_applied() {
        let mut pending = Pending::default();
        let a = TenantId::parse("aaa").unwrap();
        assert_eq!(pending.lag(), Lag::default());
        pending.saw(&a, Some(5));
        std::thread::sleep(Duration::from_millis(20));
        pending.saw(&a, Some(7));
        let lag = pending.lag();
        assert!(lag.seconds >= 0.02 && lag.events == 7, "{lag:?}");
        pending.applied(&a, 5);
        assert_eq!(pending.lag().events, 2);
        pending.applied(&a, 7);
        assert_eq!(pending.len(), 0);
    }
}
