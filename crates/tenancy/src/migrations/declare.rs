//! Declared collections and indexes: the schema vocabulary every crate uses to say what its
//! collections are, so that migrations, rebuilds and the namespace count read one declaration.

use mongodb::action::Action;
use mongodb::bson::{Document, doc};
use mongodb::options::{IndexOptions, ValidationAction, ValidationLevel};
use mongodb::{Database, IndexModel};

/// A collection, its secondary indexes (the `_id` index is implicit) and, for a collection the
/// code writes in one shape, a validator: a `$jsonSchema` the server checks on every write, so
/// a bug (or a hand) that writes a malformed document fails instead of storing it.
#[derive(Debug)]
pub struct CollectionSpec {
    pub name: &'static str,
    pub indexes: &'static [IndexSpec],
    pub validator: Option<fn() -> Document>,
}

/// One secondary index: keys in order (`1` ascending, `-1` descending).
#[derive(Debug)]
pub struct IndexSpec {
    pub keys: &'static [(&'static str, i32)],
    pub unique: bool,
    /// A TTL index: documents expire this many seconds after the (date) key.
    pub expire_after_secs: Option<u64>,
}

impl IndexSpec {
    pub const fn on(keys: &'static [(&'static str, i32)]) -> IndexSpec {
        IndexSpec {
            keys,
            unique: false,
            expire_after_secs: None,
        }
    }

    pub const fn unique(keys: &'static [(&'static str, i32)]) -> IndexSpec {
        IndexSpec {
            keys,
            unique: true,
            expire_after_secs: None,
        }
    }

    pub const fn ttl(key: &'static [(&'static str, i32)], secs: u64) -> IndexSpec {
        IndexSpec {
            keys: key,
            unique: false,
            expire_after_secs: Some(secs),
        }
    }

    fn model(&self) -> IndexModel {
        let mut keys = Document::new();
        for (field, order) in self.keys {
            keys.insert(*field, *order);
        }
        let options = IndexOptions::builder()
            .unique(self.unique.then_some(true))
            .expire_after(self.expire_after_secs.map(std::time::Duration::from_secs))
            .build();
        IndexModel::builder().keys(keys).options(options).build()
    }
}

impl CollectionSpec {
    /// Namespaces this collection costs a cluster: itself, its `_id` index and its indexes.
    pub fn namespaces(&self) -> usize {
        2 + self.indexes.len()
    }
}

/// MongoDB's "namespace exists" error code.
const NAMESPACE_EXISTS: i32 = 48;

/// Creates the collection (under `physical`, which may differ from the declared name, e.g. a
/// read model's new generation), its validator and its indexes if missing; safe to run again
/// (an existing collection gets the declared validator).
pub async fn ensure(
    db: &Database,
    spec: &CollectionSpec,
    physical: &str,
) -> mongodb::error::Result<()> {
    let validator = spec.validator.map(|schema| doc! {"$jsonSchema": schema()});
    let create = db
        .create_collection(physical)
        .optional(validator.clone(), |create, validator| {
            create
                .validator(validator)
                .validation_level(ValidationLevel::Strict)
                .validation_action(ValidationAction::Error)
        });
    match create.await {
        Err(e) if matches!(e.kind.as_ref(), mongodb::error::ErrorKind::Command(c) if c.code == NAMESPACE_EXISTS) => {
            if let Some(validator) = validator {
                let modify = doc! {"collMod": physical, "validator": validator, "validationLevel": "strict", "validationAction": "error"};
                db.run_command(modify).await?;
            }
        }
        other => other?,
    }
    let collection = db.collection::<Document>(physical);
    for index in spec.indexes {
        collection.create_index(index.model()).await?;
    }
    Ok(())
}

/// Creates every declared collection under its own name.
pub async fn ensure_all(db: &Database, specs: &[CollectionSpec]) -> mongodb::error::Result<()> {
    for spec in specs {
        ensure(db, spec, spec.name).await?;
    }
    Ok(())
}
