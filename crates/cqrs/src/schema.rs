//! What the CQRS library keeps in every tenant database, as the `cqrs` migrations component:
//!
//! - `outbox`: the tenant's events (`_id` = position);
//! - `idempotency_keys`: recorded responses of creating commands (expire after 48 h; keys are
//!   promised for at least 24 h);
//! - `_dead_letters`: events a projection could not apply;
//! - `_meta` documents: the outbox counter (`outbox`, also the commands' fence), the
//!   projector's fence (`projector`: the fencing token of the lease holder) and the read models'
//!   pointer (`read_models`: which generation queries read), plus projection checkpoints.
//!
//! A domain adds its own component (write model, read models) after this one.

use futures::future::BoxFuture;
use mongodb::Database;
use mongodb::bson::{Document, doc};
use tenancy::meta::{LIVE, META};
use tenancy::migrations::{CollectionSpec, Component, IndexSpec, Migration, ensure_all};

use crate::outbox::{OUTBOX, OUTBOX_COUNTER};
use crate::projector::{DEAD_LETTERS, PROJECTOR_FENCE};
use crate::read_models::POINTER;

pub const IDEMPOTENCY_KEYS: &str = "idempotency_keys";
/// How long idempotency records are kept.
pub const IDEMPOTENCY_TTL_SECS: u64 = 48 * 3600;

pub static COLLECTIONS: &[CollectionSpec] = &[
    CollectionSpec {
        name: OUTBOX,
        indexes: &[],
        validator: Some(outbox_schema),
    },
    CollectionSpec {
        name: IDEMPOTENCY_KEYS,
        indexes: &[IndexSpec::ttl(&[("created_at", 1)], IDEMPOTENCY_TTL_SECS)],
        validator: None,
    },
    CollectionSpec {
        name: DEAD_LETTERS,
        indexes: &[],
        validator: None,
    },
    CollectionSpec {
        name: META,
        indexes: &[],
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
