//! Read-model generations: where queries read, and where a rebuild writes.
//!
//! A projection declares its read models by name (`product_list`). The collections behind
//! them belong to a *generation*: generation 0 is the plain name, generation `g` is
//! `<name>__g<g>`. The `_meta` document `read_models` names the live generation, and every
//! projection checkpoint records the generation it applies to. A rebuild builds generation
//! `g + 1` beside the live one and switches the pointer and the checkpoints in one
//! transaction, so a query never sees an empty or half-built read model.
//!
//! Queries with `X-Min-Position` learn the generation from the checkpoints they wait on;
//! others read a cached pointer (`ReadModelCache`, a few seconds old at most, and invalidated
//! by the change stream when it moves). A retired generation is dropped only after a grace
//! period longer than that, so a cached pointer never leads to a dropped collection.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use mongodb::Database;
use mongodb::bson::{Document, doc};
use tenancy::TenantKey;
use tenancy::meta::META;

/// The `_meta` document naming the live generation.
pub const POINTER: &str = "read_models";
/// How long a query may read a cached pointer on an instance whose projector feed hears of every
/// switch (the feed drops the cached pointer; the time bounds a missed event).
pub const POINTER_TTL_WATCHED: Duration = Duration::from_secs(60);
/// How long a query may read a cached pointer on an instance that runs no projector.
pub const POINTER_TTL_UNWATCHED: Duration = Duration::from_secs(5);
/// How long a retired generation is kept after a switch (must exceed the pointer TTLs).
pub const RETIRED_GRACE: Duration = Duration::from_secs(120);

/// A generation of the read models.
pub type Generation = u32;

/// The collection of `read_model` in `generation`.
pub fn collection_name(read_model: &str, generation: Generation) -> Cow<'_, str> {
    if generation == 0 {
        Cow::Borrowed(read_model)
    } else {
        Cow::Owned(format!("{read_model}__g{generation}"))
    }
}

/// The read model and generation of a collection name, if it is one of `read_models`'.
pub fn parse_collection_name<'a>(
    name: &str,
    read_models: impl IntoIterator<Item = &'a str>,
) -> Option<(&'a str, Generation)> {
    for model in read_models {
        if name == model {
            return Some((model, 0));
        }
        if let Some(g) = name
            .strip_prefix(model)
            .and_then(|rest| rest.strip_prefix("__g"))
            .and_then(|g| g.parse().ok())
        {
            return Some((model, g));
        }
    }
    None
}

/// Reads the live generation from the tenant database.
pub async fn live_generation(db: &Database) -> mongodb::error::Result<Generation> {
    let pointer = db
        .collection::<Document>(META)
        .find_one(doc! {"_id": POINTER})
        .await?;
    Ok(pointer
        .and_then(|p| p.get_i32("generation").ok())
        .map_or(0, |g| g.max(0) as Generation))
}

/// Tells every instance that the tenant's read models changed shape (a migration added or
/// replaced some): the pointer document is touched, so the cluster's change stream reaches
/// whichever instance projects the tenant (its projector catches up at once: a new projection
/// starts from the first event) and every instance's cache of the live generation.
pub async fn announce_change(db: &Database) -> mongodb::error::Result<()> {
    db.collection::<Document>(META)
        .update_one(
            doc! {"_id": POINTER},
            doc! {"$set": {"changed_at": mongodb::bson::DateTime::now()}},
        )
        .await?;
    Ok(())
}

/// Live generations by tenant, as queries without `X-Min-Position` use them.
#[derive(Clone)]
pub struct ReadModelCache {
    pointers: moka::future::Cache<TenantKey, Generation>,
    /// The generation the last pointer read found: a tenant not cached yet is likely at it too
    /// (tenants are rebuilt together by a migration, or never).
    last_read: Arc<AtomicU32>,
}

impl ReadModelCache {
    /// Pointers kept for `ttl`: `POINTER_TTL_WATCHED` where the projector's feed drops them
    /// when they change, else `POINTER_TTL_UNWATCHED`. A query reads its tenant's pointer once
    /// per `ttl` at most: with a short one, a tenant asked less often than that pays a second
    /// round trip on most queries.
    pub fn new(ttl: Duration) -> ReadModelCache {
        ReadModelCache {
            pointers: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(ttl)
                .build(),
            last_read: Arc::default(),
        }
    }

    /// The tenant's live generation, read from its pointer unless cached.
    pub async fn generation(
        &self,
        key: &TenantKey,
        db: &Database,
    ) -> Result<Generation, Arc<mongodb::error::Error>> {
        self.pointers
            .try_get_with_by_ref(key, async {
                let generation = live_generation(db).await?;
                self.last_read.store(generation, Ordering::Relaxed);
                Ok::<_, mongodb::error::Error>(generation)
            })
            .await
    }

    /// The tenant's live generation if cached.
    pub async fn cached(&self, key: &TenantKey) -> Option<Generation> {
        self.pointers.get(key).await
    }

    /// The generation an uncached tenant most likely has: the last one a pointer read found.
    pub fn likeliest(&self) -> Generation {
        self.last_read.load(Ordering::Relaxed)
    }

    /// Forgets a tenant's pointer (it changed, or the tenant moved).
    pub async fn invalidate(&self, key: &TenantKey) {
        self.pointers.invalidate(key).await;
    }

    /// Forgets every pointer (the feed that reports their changes was interrupted).
    pub fn invalidate_all(&self) {
        self.pointers.invalidate_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generations_name_collections_and_parse_back() {
        assert_eq!(collection_name("order_list", 0), "order_list");
        assert_eq!(collection_name("order_list", 3), "order_list__g3");
        let models = ["order_list", "product_list"];
        assert_eq!(
            parse_collection_name("order_list__g3", models),
            Some(("order_list", 3))
        );
        assert_eq!(
            parse_collection_name("product_list", models),
            Some(("product_list", 0))
        );
        assert_eq!(parse_collection_name("order_list__gx", models), None);
        assert_eq!(parse_collection_name("orders", models), None);
    }
}
