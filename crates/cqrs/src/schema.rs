//! What the CQRS library keeps in every tenant database, as the `cqrs` migrations component:
//!
//! - `outbox`: the tenant's events (`_id` = position);
//! - `_meta` documents: the outbox counter (`outbox`, also the commands' fence), the
//!   projector's fence (`projector`: the fencing token of the lease holder), the read models'
//!   pointer (`read_models`: which generation queries read), projection checkpoints, the
//!   recorded responses of creating commands (`idempotency:…`, removed by a TTL index on
//!   `expires_at` 48 h after they were written; keys are promised for at least 24 h) and events a
//!   projection could not apply (`dead_letter:…`).
//!
//! Two collections and three indexes in all: every namespace a tenant has counts against its
//! cluster's budget, so the small kinds share `_meta`. A domain adds its own component (write
//! model, read models) after this one.

use futures::future::BoxFuture;
use mongodb::Database;
use mongodb::bson::{Document, doc};
use tenancy::meta::{LIVE, META};
use tenancy::migrations::{CollectionSpec, Component, IndexSpec, Migration, ensure_all};

use crate::command::idempotency;
use crate::outbox::{OUTBOX, OUTBOX_COUNTER};
use crate::projector::{PROJECTOR_FENCE, dead_letters};
use crate::read_models::POINTER;

/// How long idempotency records are kept.
pub const IDEMPOTENCY_TTL_SECS: u64 = 48 * 3600;
/// The field of `_meta` documents that expire (the TTL index's).
pub const EXPIRES_AT: &str = "expires_at";

pub static COLLECTIONS: &[CollectionSpec] = &[
    CollectionSpec {
        name: OUTBOX,
        indexes: &[],
        validator: Some(outbox_schema),
    },
    CollectionSpec {
        name: META,
        indexes: &[IndexSpec::ttl(&[(EXPIRES_AT, 1)], 0)],
        validator: None,
    },
];

/// An event: its position, type and payload, when and by whom (see `outbox::StoredEvent`).
fn outbox_schema() -> Document {
    doc! {
        "bsonType": "object",
        "required": ["_id", "type", "payload", "occurred_at"],
        "properties": {
            "_id": {"bsonType": "long", "minimum": 1_i64},
            "id": {"bsonType": "string"},
            "type": {"bsonType": "string", "minLength": 1},
            "payload": {"bsonType": "object"},
            "occurred_at": {"bsonType": "date"},
            "correlation_id": {"bsonType": "string"},
            "actor": {"bsonType": "string"},
        },
    }
}

/// The `cqrs` migrations component.
pub static COMPONENT: Component = Component {
    name: "cqrs",
    migrations: &[
        Migration {
            version: 1,
            name: "outbox_fences_and_checkpoints",
            apply: |db| Box::pin(m0001(db)),
        },
        Migration {
            version: 2,
            name: "outbox_validator",
            apply: |db| Box::pin(ensure_all(db, COLLECTIONS)),
        },
        Migration {
            version: 3,
            name: "metadata_in_meta",
            apply: |db| Box::pin(m0003(db)),
        },
    ],
};

fn m0001(db: &Database) -> BoxFuture<'_, mongodb::error::Result<()>> {
    Box::pin(async move {
        ensure_all(db, COLLECTIONS).await?;
        let meta = db.collection::<Document>(META);
        let initial = [
            (OUTBOX_COUNTER, doc! {"position": 0_i64, "state": LIVE}),
            (PROJECTOR_FENCE, doc! {"token": 0_i64, "state": LIVE}),
            (POINTER, doc! {"generation": 0_i32}),
        ];
        for (id, fields) in initial {
            meta.update_one(doc! {"_id": id}, doc! {"$setOnInsert": fields})
                .upsert(true)
                .await?;
        }
        Ok(())
    })
}

/// The collections of idempotency records and dead letters before they moved into `_meta`.
const IDEMPOTENCY_KEYS_BEFORE: &str = "idempotency_keys";
const DEAD_LETTERS_BEFORE: &str = "_dead_letters";

/// A document of a collection of before, as written now (`None`: not one it can convert).
type Convert = fn(Document) -> Option<Document>;

/// Moves idempotency records and dead letters into `_meta` (with the `_id`s and fields they
/// are written with now) and drops their collections. Repeatable: a copy is an upsert, and a
/// collection goes only after all of it was copied.
fn m0003(db: &Database) -> BoxFuture<'_, mongodb::error::Result<()>> {
    Box::pin(async move {
        ensure_all(db, COLLECTIONS).await?;
        let meta = db.collection::<Document>(META);
        let names = db.list_collection_names().await?;
        let moves: [(&str, Convert); 2] = [
            (IDEMPOTENCY_KEYS_BEFORE, idempotency::moved_record),
            (DEAD_LETTERS_BEFORE, dead_letters::moved_letter),
        ];
        for (name, convert) in moves {
            if !names.iter().any(|n| n == name) {
                continue;
            }
            let old = db.collection::<Document>(name);
            let mut cursor = old.find(doc! {}).await?;
            while cursor.advance().await? {
                if let Some(moved) = convert(cursor.deserialize_current()?) {
                    let id = moved.get("_id").cloned().unwrap_or_default();
                    meta.replace_one(doc! {"_id": id}, moved)
                        .upsert(true)
                        .await?;
                }
            }
            old.drop().await?;
        }
        Ok(())
    })
}
