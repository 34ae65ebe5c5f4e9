//! Executing a batch's writes: every projection's read-model writes and the checkpoints that go
//! with them, in the batch's transaction, as one `bulkWrite` (one round trip). Servers without
//! the `bulkWrite` command (MongoDB before 8.0) get the same writes one by one (see `bulk`).

use mongodb::bson::{DateTime, Document, doc};
use mongodb::options::{
    DeleteOneModel, InsertOneModel, ReplaceOneModel, UpdateModifications, UpdateOneModel,
    WriteModel,
};
use mongodb::{ClientSession, Database, Namespace};
use tenancy::meta::META;

use super::checkpoints::Checkpoint;
use super::projection::{ProjectionError, Write};
use crate::bulk;
use crate::outbox::StoredEvent;
use crate::read_models::{Generation, collection_name};

/// The writes of one batch, in order.
pub(crate) struct BatchWrites<'a> {
    db: &'a Database,
    generation: Generation,
    ops: Vec<Op>,
}

enum Op {
    Model(Write, String),
    /// A checkpoint moved by compare-and-set (`before` as read) to `to`.
    Checkpoint {
        key: String,
        before: Checkpoint,
        to: (i64, String),
    },
}

impl<'a> BatchWrites<'a> {
    pub fn new(db: &'a Database, generation: Generation) -> BatchWrites<'a> {
        BatchWrites {
            db,
            generation,
            ops: Vec::new(),
        }
    }

    /// A projection's writes to its read models (in this batch's generation).
    pub fn read_model_writes(&mut self, writes: super::projection::Writes) {
        for (model, write) in writes.ops {
            let physical = collection_name(model, self.generation).into_owned();
            self.ops.push(Op::Model(write, physical));
        }
    }

    /// The projection's checkpoint, from `before` to `event`.
    pub fn checkpoint(&mut self, key: String, before: &Checkpoint, event: &StoredEvent) {
        self.ops.push(Op::Checkpoint {
            key,
            before: before.clone(),
            to: (event.position, event.id.clone()),
        });
    }

    /// Runs every write in the session's transaction; `Stale` if a checkpoint was not what it
    /// was read as.
    pub async fn execute(self, session: &mut ClientSession) -> Result<(), ProjectionError> {
        if self.ops.is_empty() {
            return Ok(());
        }
        if bulk::available() {
            match self.bulk(session).await {
                Err(ProjectionError::Database(e)) if bulk::unavailable_after(&e) => {}
                other => return other,
            }
        }
        self.one_by_one(session).await
    }

    fn namespace(&self, collection: &str) -> Namespace {
        Namespace {
            db: self.db.name().to_string(),
            coll: collection.to_string(),
        }
    }

    async fn bulk(&self, session: &mut ClientSession) -> Result<(), ProjectionError> {
        let mut models: Vec<WriteModel> = Vec::with_capacity(self.ops.len());
        let mut cas = Vec::new();
        for op in &self.ops {
            match op {
                Op::Model(write, collection) => {
                    models.push(model(self.namespace(collection), write))
                }
                Op::Checkpoint { key, before, to } => {
                    let namespace = self.namespace(META);
                    if before.exists {
                        cas.push(models.len());
                        models.push(
                            UpdateOneModel::builder()
                                .namespace(namespace)
                                .filter(as_read(key, before))
                                .update(UpdateModifications::Document(moved(to)))
                                .build()
                                .into(),
                        );
                    } else {
                        models.push(
                            InsertOneModel::builder()
                                .namespace(namespace)
                                .document(first(key, to))
                                .build()
                                .into(),
                        );
                    }
                }
            }
        }
        let result = match self
            .db
            .client()
            .bulk_write(models)
            .verbose_results()
            .session(&mut *session)
            .await
        {
            Ok(result) => result,
            Err(e) if bulk::duplicate_index(&e).is_some() => {
                return Err(ProjectionError::Stale);
            }
            Err(e) => return Err(e.into()),
        };
        let moved_all = cas.iter().all(|i| {
            result
                .update_results
                .get(i)
                .is_some_and(|r| r.matched_count == 1)
        });
        if moved_all {
            Ok(())
        } else {
            Err(ProjectionError::Stale)
        }
    }

    async fn one_by_one(&self, session: &mut ClientSession) -> Result<(), ProjectionError> {
        for op in &self.ops {
            match op {
                Op::Model(write, collection) => {
                    let coll = self.db.collection::<Document>(collection);
                    match write {
                        Write::Put { document, .. } => {
                            coll.replace_one(write.filter(), document)
                                .upsert(true)
                                .session(&mut *session)
                                .await?;
                        }
                        Write::Update { update, upsert, .. } => {
                            coll.update_one(write.filter(), update.clone())
                                .upsert(*upsert)
                                .session(&mut *session)
                                .await?;
                        }
                        Write::Delete { .. } => {
                            coll.delete_one(write.filter())
                                .session(&mut *session)
                                .await?;
                        }
                    }
                }
                Op::Checkpoint { key, before, to } => {
                    let meta = self.db.collection::<Document>(META);
                    if before.exists {
                        let moved = meta
                            .update_one(as_read(key, before), moved(to))
                            .session(&mut *session)
                            .await?;
                        if moved.matched_count != 1 {
                            return Err(ProjectionError::Stale);
                        }
                    } else {
                        match meta.insert_one(first(key, to)).session(&mut *session).await {
                            Err(e) if tenancy::is_duplicate_key(&e) => {
                                return Err(ProjectionError::Stale);
                            }
                            other => {
                                other?;
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// The checkpoint still at the position the batch read (the compare of compare-and-set).
fn as_read(key: &str, before: &Checkpoint) -> Document {
    doc! {"_id": key, "position": before.position}
}

fn moved_fields(to: &(i64, String)) -> Document {
    doc! {"position": to.0, "event": &to.1, "updated_at": DateTime::now()}
}

fn moved(to: &(i64, String)) -> Document {
    doc! {"$set": moved_fields(to)}
}

/// A projection's first checkpoint (inserted: a concurrent first insert is a duplicate key).
fn first(key: &str, to: &(i64, String)) -> Document {
    let mut first = doc! {"_id": key};
    first.extend(moved_fields(to));
    first
}

fn model(namespace: Namespace, write: &Write) -> WriteModel {
    match write {
        Write::Put { document, .. } => ReplaceOneModel::builder()
            .namespace(namespace)
            .filter(write.filter())
            .replacement(document.clone())
            .upsert(true)
            .build()
            .into(),
        Write::Update { update, upsert, .. } => UpdateOneModel::builder()
            .namespace(namespace)
            .filter(write.filter())
            .update(UpdateModifications::Document(update.clone()))
            .upsert(*upsert)
            .build()
            .into(),
        Write::Delete { .. } => DeleteOneModel::builder()
            .namespace(namespace)
            .filter(write.filter())
            .build()
            .into(),
    }
}
