//! Pool gauges fed by the driver's connection-pool (CMAP) events: connections open, in use, and
//! operations waiting for a connection. Read by `/metrics`, tenant stats and the scale tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use mongodb::event::EventHandler;
use mongodb::event::cmap::CmapEvent;

#[derive(Debug, Default)]
pub struct PoolGauges {
    open: AtomicI64,
    in_use: AtomicI64,
    waiting: AtomicI64,
    created_total: AtomicI64,
}

/// A point-in-time copy of the gauges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct PoolSnapshot {
    pub open: i64,
    pub in_use: i64,
    pub idle: i64,
    pub waiting: i64,
    pub created_total: i64,
}

impl PoolGauges {
    pub fn event_handler(self: &Arc<Self>) -> EventHandler<CmapEvent> {
        let gauges = Arc::clone(self);
        EventHandler::callback(move |event| gauges.record(&event))
    }

    fn record(&self, event: &CmapEvent) {
        let add = |gauge: &AtomicI64, n: i64| {
            gauge.fetch_add(n, Ordering::Relaxed);
        };
        match event {
            CmapEvent::ConnectionCreated(_) => {
                add(&self.open, 1);
                add(&self.created_total, 1);
            }
            CmapEvent::ConnectionClosed(_) => add(&self.open, -1),
            CmapEvent::ConnectionCheckoutStarted(_) => add(&self.waiting, 1),
            CmapEvent::ConnectionCheckoutFailed(_) => add(&self.waiting, -1),
            CmapEvent::ConnectionCheckedOut(_) => {
                add(&self.waiting, -1);
                add(&self.in_use, 1);
            }
            CmapEvent::ConnectionCheckedIn(_) => add(&self.in_use, -1),
            _ => {}
        }
    }

    pub fn snapshot(&self) -> PoolSnapshot {
        let open = self.open.load(Ordering::Relaxed);
        let in_use = self.in_use.load(Ordering::Relaxed);
        PoolSnapshot {
            open,
            in_use,
            idle: (open - in_use).max(0),
            waiting: self.waiting.load(Ordering::Relaxed),
            created_total: self.created_total.load(Ordering::Relaxed),
        }
    }
}
