//! `ClusterHealth`: whether a cluster is known to be down, from the driver's own server
//! monitoring (heartbeat events). While it is down, request-path handles fail at once with
//! `ClusterDown` (503) instead of every request waiting out server selection; the next
//! successful heartbeat brings it back.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use mongodb::event::EventHandler;
use mongodb::event::sdam::SdamEvent;

#[derive(Debug, Default)]
pub struct ClusterHealth {
    down: AtomicBool,
}

impl ClusterHealth {
    pub(super) fn event_handler(self: &Arc<Self>) -> EventHandler<SdamEvent> {
        let health = Arc::clone(self);
        EventHandler::callback(move |event| match event {
            SdamEvent::ServerHeartbeatFailed(_) if !health.down.swap(true, Ordering::Relaxed) => {
                tracing::warn!("a cluster stopped answering heartbeats; failing its requests fast");
            }
            SdamEvent::ServerHeartbeatSucceeded(_)
                if health.down.swap(false, Ordering::Relaxed) =>
            {
                tracing::info!("the cluster answers again");
            }
            _ => {}
        })
    }

    /// The last heartbeat failed.
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }
}
