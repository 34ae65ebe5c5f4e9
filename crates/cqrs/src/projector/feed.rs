//! What feeds a cluster's worker: a change stream on the cluster's outbox collections (and on
//! the read models' pointers: to keep query caches fresh, and because a migration that adds a
//! projection touches it, see `read_models::announce_change`), and a sweep of the tenants this
//! instance projects whenever the stream (re)opens or the partitions it holds change. The
//! stream is the cluster's, so whichever instance projects a tenant hears of it.

use std::time::Duration;

use futures::StreamExt;
use mongodb::bson::{Bson, Document, doc};
use mongodb::change_stream::event::ChangeStreamEvent;
use tenancy::fleet::partition_of;
use tenancy::meta::META;
use tenancy::{TenancyError, TenantId, TenantStatus};

use super::{FeedState, Projector};
use crate::outbox::OUTBOX;
use crate::read_models::POINTER;

impl Projector {
    /// Runs the cluster's feed forever, reopening the stream after failures.
    pub(super) async fn feed(&self, cluster: &str) {
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.feed_once(cluster).await {
                Ok(()) => backoff = Duration::from_millis(100),
                Err(e) => {
                    tracing::warn!(cluster, error = %e, "outbox change stream failed; reopening");
                    self.set_feed(cluster, |state| state.failed());
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
            tokio::time::sleep(backoff).await;
        }
    }

    async fn feed_once(&self, cluster: &str) -> Result<(), TenancyError> {
        let client = self.inner.pools.cluster(cluster)?.client().clone();
        let pipeline = [doc! {"$match": {"$or": [
            {"ns.coll": OUTBOX, "operationType": "insert"},
            {"ns.coll": META, "documentKey._id": POINTER},
        ]}}];
        let mut stream = client.watch().pipeline(pipeline).await?;
        // A pointer may have changed while no stream was open.
        self.inner.generations.invalidate_all();
        let mut ownership = self.inner.ownership.subscribe();
        // Anything written before the stream opened: sweep every tenant this instance projects.
        self.sweep(cluster).await?;
        self.set_feed(cluster, |_| FeedState::Streaming);
        loop {
            tokio::select! {
                changed = ownership.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                    self.forget_unowned(cluster);
                    self.sweep(cluster).await?;
                }
                event = stream.next() => match event {
                    Some(event) => self.on_change(cluster, &event?).await,
                    None => return Ok(()),
                },
            }
        }
    }

    async fn on_change(&self, cluster: &str, event: &ChangeStreamEvent<Document>) {
        let Some(ns) = event.ns.as_ref() else { return };
        let Some((id, incarnation)) = TenantId::parse_database_name(&self.inner.prefix, &ns.db)
        else {
            return;
        };
        if ns.coll.as_deref() == Some(OUTBOX) {
            let position = event
                .document_key
                .as_ref()
                .and_then(|k| k.get("_id"))
                .and_then(Bson::as_i64);
            self.mark(cluster, &id, position);
        } else {
            // The read models changed: a new generation, or new projections to catch up.
            self.mark(cluster, &id, None);
            let key = tenancy::TenantKey { id, incarnation };
            self.inner.generations.invalidate(&key).await;
        }
    }

    /// Marks every tenant of the cluster in a partition this instance holds.
    async fn sweep(&self, cluster: &str) -> Result<(), TenancyError> {
        let statuses = [TenantStatus::Active, TenantStatus::Suspended];
        let ids = self
            .inner
            .catalog
            .store()
            .ids_on_cluster(cluster, &statuses)
            .await?;
        for id in ids {
            self.mark(cluster, &id, None);
        }
        Ok(())
    }

    fn set_feed(&self, cluster: &str, next: impl FnOnce(&FeedState) -> FeedState) {
        if let Some(queue) = self.inner.queues.get(cluster)
            && let Ok(mut state) = queue.feed.lock()
        {
            *state = next(&state);
        }
    }

    fn forget_unowned(&self, cluster: &str) {
        let ownership = &self.inner.ownership;
        if let Some(queue) = self.inner.queues.get(cluster)
            && let Ok(mut state) = queue.state.lock()
        {
            state.dirty.retain(|id| ownership.owns(partition_of(id)));
            state.pending.retain(|id| ownership.owns(partition_of(id)));
        }
    }
}
