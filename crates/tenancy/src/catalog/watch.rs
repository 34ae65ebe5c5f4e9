//! Cross-instance cache invalidation: a change stream on the catalog database invalidates the
//! cache entry of every tenant, domain claim or issuer claim that changes, on every running
//! instance. If the stream
//! breaks, the whole cache is dropped (so nothing stale survives) and the stream is reopened.

use std::time::Duration;

use futures::StreamExt;
use mongodb::bson::{Bson, Document, doc};
use mongodb::change_stream::event::ChangeStreamEvent;

use super::CatalogCache;
use super::store::{DOMAINS, ISSUERS, TENANTS};
use crate::TenantId;
use crate::task::AbortOnDrop;

/// Starts the watch; it runs until the returned guard is dropped.
pub fn spawn_invalidation_watch(cache: CatalogCache) -> AbortOnDrop {
    AbortOnDrop::spawn(watch_forever(cache))
}

async fn watch_forever(cache: CatalogCache) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match watch_once(&cache).await {
            Ok(()) => backoff = Duration::from_millis(100),
            Err(e) => {
                tracing::warn!(error = %e, "catalog change stream failed; cache dropped, retrying");
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
        cache.invalidate_all();
        tokio::time::sleep(backoff).await;
    }
}

async fn watch_once(cache: &CatalogCache) -> mongodb::error::Result<()> {
    let pipeline = [doc! {"$match": {"ns.coll": {"$in": [TENANTS, DOMAINS, ISSUERS]}}}];
    let mut stream = cache.store().database().watch().pipeline(pipeline).await?;
    // Changes made before the stream opened may have been cached already.
    cache.invalidate_all();
    while let Some(event) = stream.next().await {
        apply(cache, &event?).await;
    }
    Ok(())
}

async fn apply(cache: &CatalogCache, event: &ChangeStreamEvent<Document>) {
    let collection = event.ns.as_ref().and_then(|ns| ns.coll.as_deref());
    let key = event.document_key.as_ref().and_then(|k| k.get("_id"));
    match (collection, key) {
        (Some(TENANTS), Some(Bson::String(id))) => match TenantId::parse(id) {
            Ok(id) => cache.invalidate(&id).await,
            Err(_) => cache.invalidate_all(),
        },
        (Some(DOMAINS), Some(Bson::String(domain))) => cache.invalidate_domain(domain).await,
        (Some(ISSUERS), Some(Bson::String(issuer))) => cache.invalidate_issuer(issuer).await,
        _ => cache.invalidate_all(),
    }
}
