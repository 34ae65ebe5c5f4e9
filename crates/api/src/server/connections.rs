//! The table of open client connections: the cap, which connection is idle, and the choice of
//! the connection to close when a new one arrives at the cap (the one idle for longest).
//!
//! A connection is *busy* from the moment hyper hands its request to the router until the
//! response body has been written, and *idle* otherwise: before its first complete request head
//! (a silent or slowloris client looks exactly like this) and between keep-alive requests. Only
//! idle connections are ever evicted, so no request that has started is cut off by the cap.
//! The table owns no socket: each connection's task holds its socket and its `Registration`,
//! and closes when its `Slot` says it was evicted.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

const IDLE: u8 = 0;
const BUSY: u8 = 1;
const EVICTED: u8 = 2;

/// Orders idle periods: a connection that became idle earlier has a smaller stamp.
static IDLE_ORDER: AtomicU64 = AtomicU64::new(0);

fn idle_stamp() -> u64 {
    IDLE_ORDER.fetch_add(1, Ordering::Relaxed)
}

/// One connection's state, shared by its task, its requests and the table.
#[derive(Debug)]
pub struct Slot {
    state: AtomicU8,
    idle_since: AtomicU64,
    evicted: Notify,
}

impl Slot {
    fn new() -> Slot {
        Slot {
            state: AtomicU8::new(IDLE),
            idle_since: AtomicU64::new(idle_stamp()),
            evicted: Notify::new(),
        }
    }

    /// Marks the connection busy for one request; `None` if it has just been evicted (the
    /// request must then not run: its connection is being closed).
    pub fn begin_request(self: &Arc<Slot>) -> Option<RequestGuard> {
        self.state
            .compare_exchange(IDLE, BUSY, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| RequestGuard(Arc::clone(self)))
    }

    /// Completes when the table has chosen this connection to make room for a new one.
    pub async fn evicted(&self) {
        self.evicted.notified().await;
    }

    fn try_evict(&self) -> bool {
        let evicted = self
            .state
            .compare_exchange(IDLE, EVICTED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if evicted {
            self.evicted.notify_one();
        }
        evicted
    }

    fn idle_since(&self) -> Option<u64> {
        (self.state.load(Ordering::Acquire) == IDLE)
            .then(|| self.idle_since.load(Ordering::Relaxed))
    }
}

/// Held while a request (and its response body) is in flight; the connection is idle again
/// when it is dropped.
#[derive(Debug)]
pub struct RequestGuard(Arc<Slot>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.0.idle_since.store(idle_stamp(), Ordering::Relaxed);
        self.0.state.store(IDLE, Ordering::Release);
    }
}

/// What the table decided about a new connection.
pub enum Admission {
    /// Serve it; `evicted` says whether an idle connection was closed to make room.
    Admitted {
        registration: Registration,
        evicted: bool,
    },
    /// At the cap with every connection busy.
    Refused,
}

#[derive(Debug)]
pub struct ConnectionTable {
    limit: usize,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    next_id: u64,
    slots: HashMap<u64, Arc<Slot>>,
}

impl ConnectionTable {
    pub fn new(limit: usize) -> Arc<ConnectionTable> {
        Arc::new(ConnectionTable {
            limit: limit.max(1),
            open: Mutex::new(Open::default()),
        })
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Connections counted against the cap (evicted ones no longer are, even while closing).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().slots.len()
    }

    /// Makes room for a new connection if needed (evicting the connection idle for longest)
    /// and registers it; refuses it when every connection is busy.
    pub fn admit(self: &Arc<ConnectionTable>) -> Admission {
        let mut open = self.lock();
        let evicted = open.slots.len() >= self.limit;
        if evicted && !open.evict_oldest_idle() {
            return Admission::Refused;
        }
        let id = open.next_id;
        open.next_id += 1;
        let slot = Arc::new(Slot::new());
        open.slots.insert(id, Arc::clone(&slot));
        Admission::Admitted {
            registration: Registration {
                table: Arc::clone(self),
                id,
                slot,
            },
            evicted,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Open {
    /// Evicts the connection idle for longest; false if none is idle.
    fn evict_oldest_idle(&mut self) -> bool {
        loop {
            let oldest = self
                .slots
                .iter()
                .filter_map(|(id, slot)| slot.idle_since().map(|since| (since, *id)))
                .min();
            let Some((_, id)) = oldest else {
                return false;
            };
            // It may have turned busy since it was looked at: then look again.
            if self.slots.get(&id).is_some_and(|slot| slot.try_evict()) {
                self.slots.remove(&id);
                return true;
            }
        }
    }
}

/// A connection's place in the table, held by its task; dropping it frees the place.
#[derive(Debug)]
pub struct Registration {
    table: Arc<ConnectionTable>,
    id: u64,
    slot: Arc<Slot>,
}

impl Registration {
    pub fn slot(&self) -> &Arc<Slot> {
        &self.slot
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.table.lock().slots.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admitted(table: &Arc<ConnectionTable>) -> (Registration, bool) {
        match table.admit() {
            Admission::Admitted {
                registration,
                evicted,
            } => (registration, evicted),
            Admission::Refused => panic!("refused"),
        }
    }

    fn is_evicted(registration: &Registration) -> bool {
        registration.slot.state.load(Ordering::Acquire) == EVICTED
    }

    #[test]
    fn at_the_cap_the_longest_idle_connection_makes_room() {
        let table = ConnectionTable::new(2);
        let (first, _) = admitted(&table);
        let (second, _) = admitted(&table);
        // The first one serves a request and goes idle again: now the second is the oldest idle.
        drop(first.slot().begin_request());
        let (_third, evicted) = admitted(&table);
        assert!(evicted);
        assert!(is_evicted(&second) && !is_evicted(&first));
        assert_eq!(table.len(), 2);
        assert!(
            second.slot().begin_request().is_none(),
            "evicted stays closed"
        );
    }

    #[test]
    fn busy_connections_are_never_evicted_and_the_newcomer_is_refused() {
        let table = ConnectionTable::new(2);
        let (a, _) = admitted(&table);
        let (b, _) = admitted(&table);
        let busy_a = a.slot().begin_request();
        let busy_b = b.slot().begin_request();
        assert!(busy_a.is_some() && busy_b.is_some());
        assert!(matches!(table.admit(), Admission::Refused));
        drop(busy_b);
        let (_c, evicted) = admitted(&table);
        assert!(evicted && is_evicted(&b) && !is_evicted(&a));
    }

    #[test]
    fn closing_frees_the_place() {
        let table = ConnectionTable::new(1);
        let (only, _) = admitted(&table);
        let _busy = only.slot().begin_request();
        assert!(matches!(table.admit(), Admission::Refused));
        drop(_busy);
        drop(only);
        assert_eq!(table.len(), 0);
        let (_next, evicted) = admitted(&table);
        assert!(!evicted);
    }
}
