//! `_meta`: the small metadata documents of a tenant database, in one collection (one namespace
//! instead of one per kind). Tenancy writes the tenant's identity there (`tenant`: id,
//! incarnation, created) and keeps the migration ledger there (`migration:<component>:<n>`);
//! other crates add their own documents (the outbox counter, projection checkpoints, idempotency
//! records, dead letters, ...), each kind under an `_id` prefix of its own.
//!
//! **Fences.** A `_meta` document with `state: "live"` is a *fence*: a writer that must stop when
//! the tenant goes away (commands, the projector) updates one with `state: "live"` in its filter,
//! inside its transaction — and the update must really change it (move a counter): an update
//! that sets a value the document already has is a no-op that takes no write, so it would not
//! conflict. Deletion flips every fence to `deleting` in one transaction before it
//! drops the database: the flip conflicts with (so waits for) every transaction that has already
//! touched a fence, and every later transaction finds no live fence and aborts. So nothing of a
//! deleted incarnation can commit after its deletion began to drain. A move flips them to
//! `moving` for its cut-over the same way, then `live` on the new cluster and `moved` on the old.

use mongodb::bson::{DateTime, Document, doc};
use mongodb::{ClientSession, Database};

use crate::Tenant;

/// The collection of metadata documents.
pub const META: &str = "_meta";
/// The identity document's `_id`.
pub const IDENTITY: &str = "tenant";
/// `state` of a fence that writers may pass.
pub const LIVE: &str = "live";
/// `state` of a fence once deletion has begun.
pub const DELETING: &str = "deleting";
/// `state` of a fence while a move cuts the tenant over to another cluster (see `moves`).
pub const MOVING: &str = "moving";
/// `state` of a fence in a database the tenant has moved away from.
pub const MOVED: &str = "moved";

/// The filter of a live fence document.
pub fn live_fence(id: &str) -> Document {
    doc! {"_id": id, "state": LIVE}
}

/// The filter of the `_meta` documents whose `_id` starts with `prefix` (a range on `_id`, so
/// served by its index).
pub fn id_prefix(prefix: &str) -> Document {
    doc! {"_id": {"$gte": prefix, "$lt": format!("{prefix}\u{10FFFF}")}}
}

/// Records which tenant and incarnation the database belongs to (first thing written to it).
pub(crate) async fn write_identity(db: &Database, tenant: &Tenant) -> mongodb::error::Result<()> {
    let identity = doc! {
        "tenant_id": tenant.id.as_str(),
        "incarnation": tenant.incarnation.as_str(),
        "created_at": tenant.created_at,
        "written_at": DateTime::now(),
    };
    db.collection::<Document>(META)
        .update_one(doc! {"_id": IDENTITY}, doc! {"$setOnInsert": identity})
        .upsert(true)
        .await?;
    Ok(())
}

/// Flips every live fence to `deleting`, in the caller's transaction; returns how many.
pub(crate) async fn fence_all(
    db: &Database,
    session: &mut ClientSession,
) -> mongodb::error::Result<u64> {
    flip_fences(db, Some(session), LIVE, DELETING).await
}

/// Flips every fence in state `from` to `to` (in the caller's transaction, if any); returns how
/// many.
pub(crate) async fn flip_fences(
    db: &Database,
    session: Option<&mut ClientSession>,
    from: &str,
    to: &str,
) -> mongodb::error::Result<u64> {
    let meta = db.collection::<Document>(META);
    let update = meta.update_many(
        doc! {"state": from},
        doc! {"$set": {"state": to, "fenced_at": DateTime::now()}},
    );
    let flipped = match session {
        Some(session) => update.session(session).await?,
        None => update.await?,
    };
    Ok(flipped.modified_count)
}
