//! `Ownership`: which partitions (and so which tenants' projections) this instance may work on
//! right now, with the fencing token of each grant. The lease loop updates it; the projector
//! reads it before every batch and writes the token into the tenant database in the batch's
//! transaction, so a holder that lost its lease (paused, partitioned) cannot commit anything.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use tokio::sync::watch;

use super::partition::{Partition, partition_of};
use crate::TenantId;

/// The right to write one tenant's projections: the fencing token of the lease, and until when
/// this instance may assume it still holds the lease (`None`: no leases, no expiry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fence {
    pub token: i64,
    pub valid_until: Option<Instant>,
}

impl Fence {
    /// Whether the grant may still be used (checked before every batch).
    pub fn is_current(&self) -> bool {
        self.valid_until.is_none_or(|until| Instant::now() < until)
    }
}

#[derive(Debug, Clone, Copy)]
struct Grant {
    token: i64,
    valid_until: Instant,
}

/// Shared view of this instance's grants. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Ownership {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Leases off: this instance works on every tenant with token 0 (exactly-once still holds,
    /// through the checkpoints' compare-and-set; only the work is repeated on every instance).
    everything: bool,
    grants: RwLock<BTreeMap<Partition, Grant>>,
    changed: watch::Sender<u64>,
}

impl Ownership {
    /// Ownership granted by leases (initially nothing).
    pub fn leased() -> Ownership {
        Ownership::new(false)
    }

    /// Ownership of every tenant, without leases.
    pub fn everything() -> Ownership {
        Ownership::new(true)
    }

    fn new(everything: bool) -> Ownership {
        Ownership {
            inner: Arc::new(Inner {
                everything,
                grants: RwLock::default(),
                changed: watch::channel(0).0,
            }),
        }
    }

    pub fn is_leased(&self) -> bool {
        !self.inner.everything
    }

    /// The fence for writing this tenant's projections, if this instance holds it now.
    pub fn fence(&self, id: &TenantId) -> Option<Fence> {
        if self.inner.everything {
            return Some(Fence {
                token: 0,
                valid_until: None,
            });
        }
        let grants = self.inner.grants.read().ok()?;
        let grant = grants.get(&partition_of(id))?;
        let fence = Fence {
            token: grant.token,
            valid_until: Some(grant.valid_until),
        };
        fence.is_current().then_some(fence)
    }

    /// Whether this instance works on the partition (all of them without leases).
    pub fn owns(&self, partition: Partition) -> bool {
        self.inner.everything
            || self.inner.grants.read().is_ok_and(|g| {
                g.get(&partition)
                    .is_some_and(|g| Instant::now() < g.valid_until)
            })
    }

    /// The partitions held now.
    pub fn partitions(&self) -> Vec<Partition> {
        if self.inner.everything {
            return (0..super::PARTITIONS).collect();
        }
        self.inner
            .grants
            .read()
            .map(|g| g.keys().copied().collect())
            .unwrap_or_default()
    }

    /// Notified (the value increments) whenever the set of partitions changes.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.changed.subscribe()
    }

    /// Replaces the grants with what the lease table says this instance holds; `valid_until` is
    /// the instant the renewal was *sent* plus the lease time, less a safety margin.
    pub(crate) fn set(&self, held: &BTreeMap<Partition, i64>, valid_until: Instant) {
        let Ok(mut grants) = self.inner.grants.write() else {
            return;
        };
        let before: Vec<Partition> = grants.keys().copied().collect();
        *grants = held
            .iter()
            .map(|(p, token)| {
                (
                    *p,
                    Grant {
                        token: *token,
                        valid_until,
                    },
                )
            })
            .collect();
        let after: Vec<Partition> = grants.keys().copied().collect();
        drop(grants);
        if before != after {
            self.inner.changed.send_modify(|v| *v += 1);
        }
    }

    /// Drops every grant (leases lost or handed back).
    pub(crate) fn clear(&self) {
        self.set(&BTreeMap::new(), Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn grants_expire_locally_and_changes_are_announced() {
        let ownership = Ownership::leased();
        let acme = TenantId::parse("acme").unwrap();
        let mut changes = ownership.subscribe();
        assert_eq!(ownership.fence(&acme), None);
        let held = BTreeMap::from([(partition_of(&acme), 7)]);
        ownership.set(&held, Instant::now() + Duration::from_secs(60));
        assert!(changes.has_changed().unwrap());
        changes.mark_unchanged();
        assert_eq!(ownership.fence(&acme).map(|f| f.token), Some(7));
        ownership.set(&held, Instant::now() - Duration::from_millis(1));
        assert!(!changes.has_changed().unwrap(), "same partitions");
        assert_eq!(
            ownership.fence(&acme),
            None,
            "an expired grant is not a fence"
        );
        assert_eq!(
            Ownership::everything().fence(&acme).map(|f| f.token),
            Some(0)
        );
    }
}
