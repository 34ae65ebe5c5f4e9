//! Executing a batch's writes: the writer's fence, every projection's read-model writes and the
//! track's checkpoints, in the batch's transaction, as one `bulkWrite` (one round trip, and one
//! checkpoint write whatever the number of projections). Servers without the `bulkWrite` command
//! (MongoDB before 8.0) get the same writes one by one (see `bulk`).

use mongodb::bson::{DateTime, Document, doc};
use mongodb::options::{
    DeleteOneModel, InsertOneModel, ReplaceOneModel, UpdateModifications, UpdateOneModel,
    WriteModel,
};
use mongodb::{ClientSession, Database, Namespace};
use tenancy::meta::META;
use tenancy::migrations::CollectionSpec;

use super::checkpoints::{self, Checkpoint};
use super::coalesce::coalesce;
use super::projection::{ProjectionError, Write};
use crate::bulk;
use crate::outbox::StoredEvent;
use crate::read_models::{Generation, collection_name};

/// An update of a `_meta` document that must match it, or the writer may not write (a fence).
pub(crate) struct Guard {
    pub filter: Document,
    pub update: UpdateModifications,
    /// Why the writer is fenced when the filter matches nothing.
    pub fenced: &'static str,
}

impl Guard {
    /// Passes the guard alone, in the session's transaction.
    pub async fn pass(
        &self,
        db: &Database,
        session: &mut ClientSession,
    ) -> Result<(), ProjectionError> {
        let passed = db
            .collection::<Document>(META)
            .update_one(self.filter.clone(), self.update.clone())
            .session(session)
            .await?;
        if passed.matched_count == 1 {
            Ok(())
        } else {
            Err(ProjectionError::Fenced(self.fenced))
        }
    }
}

/// The writes of one batch: its guard first, then the read models' writes (in order for each
/// document), then the checkpoints. A guard that matches nothing is no error to `bulkWrite`, so
/// the writes after it still run, and the transaction is then aborted with `Fenced` (or with the
/// error one of them raised: the next attempt is fenced all the same).
pub(crate) struct BatchWrites<'a> {
    db: &'a Database,
    generation: Generation,
    guard: Guard,
    models: Vec<(Write, String)>,
    checkpoints: Moves,
}

/// The track's checkpoints moved by compare-and-set from the positions they were read at.
struct Moves {
    /// The track's document (`checkpoints::shared_id`), and whether it exists.
    key: String,
    exists: bool,
    moved: Vec<(String, Option<i64>, Document)>,
}

impl Moves {
    /// The compare: every moved checkpoint still at the position the batch read it at.
    fn as_read(&self) -> Document {
        let mut filter = doc! {"_id": &self.key};
        for (field, recorded, _) in &self.moved {
            let position = format!("{field}.position");
            match recorded {
                Some(at) => filter.insert(position, at),
                None => filter.insert(position, doc! {"$exists": false}),
            };
        }
        filter
    }

    fn set(&self) -> Document {
        let mut set = doc! {"updated_at": DateTime::now()};
        for (field, _, entry) in &self.moved {
            set.insert(field, entry.clone());
        }
        doc! {"$set": set}
    }

    /// The track's first document (inserted: a concurrent first insert is a duplicate key).
    fn first(&self) -> Document {
        let mut positions = Document::new();
        for (field, _, entry) in &self.moved {
            let name = field.trim_start_matches("positions.");
            positions.insert(name, entry.clone());
        }
        doc! {"_id": &self.key, "positions": positions, "updated_at": DateTime::now()}
    }
}

impl<'a> BatchWrites<'a> {
    /// Writes to `generation` behind `guard`, moving the checkpoints of the track whose document
    /// is `key` (`exists`: as the batch read it).
    pub fn new(
        db: &'a Database,
        generation: Generation,
        guard: Guard,
        key: String,
        exists: bool,
    ) -> BatchWrites<'a> {
        BatchWrites {
            db,
            generation,
            guard,
            models: Vec::new(),
            checkpoints: Moves {
                key,
                exists,
                moved: Vec::new(),
            },
        }
    }

    /// A projection's writes to its read models (in this batch's generation), those to one
    /// document merged where they can be (`coalesce`). Not for read models with a unique index:
    /// a merged write takes the place of the document's first write, so it could take a key
    /// before a write between them frees it.
    pub fn read_model_writes(
        &mut self,
        writes: super::projection::Writes,
        read_models: &[CollectionSpec],
    ) {
        let unique = read_models
            .iter()
            .any(|model| model.indexes.iter().any(|index| index.unique));
        let ops = if unique {
            writes.ops
        } else {
            coalesce(writes.ops)
        };
        for (model, write) in ops {
            let physical = collection_name(model, self.generation).into_owned();
            self.models.push((write, physical));
        }
    }

    /// The projection's checkpoint, from `before` to `event`.
    pub fn checkpoint(&mut self, projection: &str, before: &Checkpoint, event: &StoredEvent) {
        self.checkpoints.moved.push((
            checkpoints::field(projection),
            before.recorded,
            checkpoints::entry(event.position, Some(&event.id)),
        ));
    }

    /// Runs every write in the session's transaction; `Fenced` if the guard matched nothing,
    /// `Stale` if a checkpoint was not what it was read as.
    pub async fn execute(self, session: &mut ClientSession) -> Result<(), ProjectionError> {
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
        let mut models: Vec<WriteModel> = Vec::with_capacity(self.models.len() + 2);
        models.push(
            UpdateOneModel::builder()
                .namespace(self.namespace(META))
                .filter(self.guard.filter.clone())
                .update(self.guard.update.clone())
                .build()
                .into(),
        );
        for (write, collection) in &self.models {
            models.push(model(self.namespace(collection), write));
        }
        let moves = &self.checkpoints;
        let cas = (!moves.moved.is_empty() && moves.exists).then_some(models.len());
        if !moves.moved.is_empty() {
            let namespace = self.namespace(META);
            models.push(match cas {
                Some(_) => UpdateOneModel::builder()
                    .namespace(namespace)
                    .filter(moves.as_read())
                    .update(UpdateModifications::Document(moves.set()))
                    .build()
                    .into(),
                None => InsertOneModel::builder()
                    .namespace(namespace)
                    .document(moves.first())
                    .build()
                    .into(),
            });
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
        let matched = |i: usize| {
            result
                .update_results
                .get(&i)
                .is_some_and(|r| r.matched_count == 1)
        };
        if !matched(0) {
            Err(ProjectionError::Fenced(self.guard.fenced))
        } else if cas.is_some_and(|i| !matched(i)) {
            Err(ProjectionError::Stale)
        } else {
            Ok(())
        }
    }

    async fn one_by_one(&self, session: &mut ClientSession) -> Result<(), ProjectionError> {
        self.guard.pass(self.db, session).await?;
        for (write, collection) in &self.models {
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
        let moves = &self.checkpoints;
        if moves.moved.is_empty() {
            return Ok(());
        }
        let meta = self.db.collection::<Document>(META);
        if moves.exists {
            let moved = meta
                .update_one(moves.as_read(), moves.set())
                .session(&mut *session)
                .await?;
            if moved.matched_count != 1 {
                return Err(ProjectionError::Stale);
            }
        } else {
            match meta.insert_one(moves.first()).session(&mut *session).await {
                Err(e) if tenancy::is_duplicate_key(&e) => return Err(ProjectionError::Stale),
                other => {
                    other?;
                }
            }
        }
        Ok(())
    }
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
