//! Writes to several collections in one round trip: MongoDB's `bulkWrite` command (8.0+). A
//! server without it answers "command not found" once; from then on this process sends the same
//! writes one collection at a time.

use std::sync::atomic::{AtomicBool, Ordering};

use mongodb::bson::Document;
use mongodb::error::{Error, ErrorKind};
use mongodb::options::{InsertOneModel, WriteModel};
use mongodb::{ClientSession, Database, Namespace};

/// MongoDB's "command not found" code: a server before 8.0 has no `bulkWrite`.
const COMMAND_NOT_FOUND: i32 = 59;
const DUPLICATE_KEY: i32 = 11000;

/// Set once a server answered that it has no `bulkWrite`.
static UNAVAILABLE: AtomicBool = AtomicBool::new(false);

/// Whether to try `bulkWrite` (false once a server said it has none).
pub(crate) fn available() -> bool {
    !UNAVAILABLE.load(Ordering::Relaxed)
}

/// True (and remembered) when `e` says the server has no `bulkWrite`: the caller then writes
/// one by one.
pub(crate) fn unavailable_after(e: &Error) -> bool {
    let missing = matches!(e.kind.as_ref(), ErrorKind::Command(c) if c.code == COMMAND_NOT_FOUND);
    if missing && !UNAVAILABLE.swap(true, Ordering::Relaxed) {
        tracing::info!("the server has no bulkWrite: writing one collection at a time");
    }
    missing
}

/// The index of the write a `bulkWrite` failed on with a duplicate key; `Some(None)` for a
/// duplicate key reported without an index; `None` for any other error.
pub(crate) fn duplicate_index(e: &Error) -> Option<Option<usize>> {
    match e.kind.as_ref() {
        ErrorKind::BulkWrite(b) => b
            .write_errors
            .iter()
            .filter(|(_, w)| w.code == DUPLICATE_KEY)
            .map(|(i, _)| *i)
            .min()
            .map(Some),
        _ if tenancy::is_duplicate_key(e) => Some(None),
        _ => None,
    }
}

/// Why a set of inserts did not go through.
#[derive(Debug)]
pub(crate) enum InsertFailed {
    /// A unique key was taken, in `collection` when the server said which write it was.
    Duplicate {
        collection: Option<String>,
    },
    Database(Error),
}

/// New documents for several collections of one database, inserted in order in one round trip.
pub(crate) struct Inserts<'a> {
    db: &'a Database,
    documents: Vec<(String, Document)>,
}

impl<'a> Inserts<'a> {
    pub fn new(db: &'a Database) -> Inserts<'a> {
        Inserts {
            db,
            documents: Vec::new(),
        }
    }

    pub fn push(&mut self, collection: &str, document: Document) {
        self.documents.push((collection.to_string(), document));
    }

    /// Inserts everything in the session's transaction (ordered: the first failure stops).
    pub async fn execute(self, session: &mut ClientSession) -> Result<(), InsertFailed> {
        if self.documents.is_empty() {
            return Ok(());
        }
        if available() {
            match self.bulk(session).await {
                Err(InsertFailed::Database(e)) if unavailable_after(&e) => {}
                other => return other,
            }
        }
        self.one_collection_at_a_time(session).await
    }

    async fn bulk(&self, session: &mut ClientSession) -> Result<(), InsertFailed> {
        let models: Vec<WriteModel> = self
            .documents
            .iter()
            .map(|(collection, document)| {
                InsertOneModel::builder()
                    .namespace(Namespace {
                        db: self.db.name().to_string(),
                        coll: collection.clone(),
                    })
                    .document(document.clone())
                    .build()
                    .into()
            })
            .collect();
        match self
            .db
            .client()
            .bulk_write(models)
            .session(&mut *session)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(match duplicate_index(&e) {
                Some(index) => InsertFailed::Duplicate {
                    collection: index
                        .and_then(|i| self.documents.get(i))
                        .map(|(c, _)| c.clone()),
                },
                None => InsertFailed::Database(e),
            }),
        }
    }

    /// One `insertMany` per run of documents for the same collection.
    async fn one_collection_at_a_time(
        self,
        session: &mut ClientSession,
    ) -> Result<(), InsertFailed> {
        let mut runs: Vec<(String, Vec<Document>)> = Vec::new();
        for (collection, document) in self.documents {
            match runs.last_mut() {
                Some((last, docs)) if *last == collection => docs.push(document),
                _ => runs.push((collection, vec![document])),
            }
        }
        for (collection, documents) in runs {
            let inserted = self
                .db
                .collection::<Document>(&collection)
                .insert_many(documents)
                .session(&mut *session)
                .await;
            match inserted {
                Ok(_) => {}
                Err(e) if tenancy::is_duplicate_key(&e) => {
                    return Err(InsertFailed::Duplicate {
                        collection: Some(collection),
                    });
                }
                Err(e) => return Err(InsertFailed::Database(e)),
            }
        }
        Ok(())
    }
}
