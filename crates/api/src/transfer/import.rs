//! `import`: a stream of NDJSON lines into a tenant without events, behind the outbox's import
//! fence (no command commits meanwhile; an interrupted import is cleared and done again).

use std::collections::BTreeMap;
use std::io;

use axum::body::Bytes;
use cqrs::import_fence::{self, ImportStart};
use cqrs::outbox::OUTBOX;
use futures::{Stream, StreamExt};
use mongodb::Database;
use mongodb::bson::{Bson, Document};
use serde::Serialize;

use super::{Line, Source};

/// Documents inserted per round trip.
const BATCH: usize = 1000;
/// The longest line (a BSON document is at most 16 MiB; its Extended JSON a little more).
const MAX_LINE: usize = 32 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The tenant has events already.
    #[error("the tenant has data: import into a new tenant")]
    NotEmpty,
    /// Another import of this tenant is running.
    #[error("another import of this tenant is running")]
    InProgress,
    /// Another importer took the fence over (this one was presumed dead).
    #[error("another import took this one over")]
    TakenOver,
    /// A line is not `{"collection", "document"}` of a data collection.
    #[error("line {line}: {message}")]
    Line { line: u64, message: String },
    /// The outbox's positions are not 1, 2, ... n.
    #[error("the imported outbox has {events} events but its last position is {last}")]
    Gaps { events: u64, last: i64 },
    #[error("the stream could not be read: {0}")]
    Read(#[from] io::Error),
    #[error("database error")]
    Database(#[from] mongodb::error::Error),
}

/// What an import loaded.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Imported {
    /// Documents per collection.
    pub documents: BTreeMap<String, u64>,
    /// The position of the last imported event: the tenant's sequence continues from it.
    pub last_position: i64,
}

/// Loads `lines` into `db` (whose data is in `sources`).
pub async fn import<S>(db: &Database, sources: &[Source], lines: S) -> Result<Imported, ImportError>
where
    S: Stream<Item = io::Result<String>>,
{
    let token = match import_fence::begin(db).await? {
        ImportStart::Empty { token } => token,
        ImportStart::Interrupted { token } => {
            tracing::warn!(
                database = db.name(),
                "an interrupted import is cleared and done again"
            );
            for source in sources {
                db.collection::<Document>(&source.collection)
                    .delete_many(source.filter())
                    .await?;
            }
            token
        }
        ImportStart::NotEmpty => return Err(ImportError::NotEmpty),
        ImportStart::InProgress => return Err(ImportError::InProgress),
    };
    let loaded = load(db, sources, lines, &token).await;
    if let Err(e) = &loaded
        && !matches!(e, ImportError::TakenOver)
    {
        import_fence::abandon(db, &token).await?;
    }
    loaded
}

/// Loads the lines behind the fence held with `token`, then opens the outbox.
async fn load<S>(
    db: &Database,
    sources: &[Source],
    lines: S,
    token: &str,
) -> Result<Imported, ImportError>
where
    S: Stream<Item = io::Result<String>>,
{
    let mut batch = Batch::new(db, token);
    let mut lines = std::pin::pin!(lines);
    let mut number = 0_u64;
    while let Some(line) = lines.next().await {
        number += 1;
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let invalid = |message: String| ImportError::Line {
            line: number,
            message,
        };
        let Line {
            collection,
            document,
        } = serde_json::from_str(&line)
            .map_err(|e| invalid(format!("not {{\"collection\", \"document\"}}: {e}")))?;
        let Some(source) = sources.iter().find(|s| s.collection == collection) else {
            return Err(invalid(format!(
                "'{collection}' is not one of the tenant's data collections"
            )));
        };
        let Ok(Bson::Document(document)) = Bson::try_from(document) else {
            return Err(invalid(
                "the document is not Extended JSON of an object".into(),
            ));
        };
        if !source.holds(&document) {
            return Err(invalid(format!(
                "this document of '{collection}' is not data an import may write"
            )));
        }
        batch.push(collection, document).await?;
    }
    batch.flush().await?;
    let imported = batch.done;
    let events = imported.documents.get(OUTBOX).copied().unwrap_or(0);
    if i64::try_from(events).ok() != Some(imported.last_position) {
        return Err(ImportError::Gaps {
            events,
            last: imported.last_position,
        });
    }
    if !import_fence::finish(db, token, imported.last_position).await? {
        return Err(ImportError::TakenOver);
    }
    tracing::info!(database = db.name(), events, "import finished");
    Ok(imported)
}

/// Documents waiting to be inserted into one collection.
struct Batch<'a> {
    db: &'a Database,
    token: &'a str,
    collection: String,
    documents: Vec<Document>,
    done: Imported,
}

impl<'a> Batch<'a> {
    fn new(db: &'a Database, token: &'a str) -> Batch<'a> {
        Batch {
            db,
            token,
            collection: String::new(),
            documents: Vec::with_capacity(BATCH),
            done: Imported::default(),
        }
    }

    async fn push(&mut self, collection: String, document: Document) -> Result<(), ImportError> {
        if collection != self.collection || self.documents.len() == BATCH {
            self.flush().await?;
            self.collection = collection;
        }
        if self.collection == OUTBOX {
            let position = document.get_i64("_id").unwrap_or(0);
            self.done.last_position = self.done.last_position.max(position);
        }
        self.documents.push(document);
        Ok(())
    }

    /// Inserts the waiting documents, after renewing the fence (so a taken-over importer stops).
    async fn flush(&mut self) -> Result<(), ImportError> {
        if self.documents.is_empty() {
            return Ok(());
        }
        if !import_fence::renew(self.db, self.token).await? {
            return Err(ImportError::TakenOver);
        }
        let documents = std::mem::take(&mut self.documents);
        let count = documents.len() as u64;
        self.db
            .collection::<Document>(&self.collection)
            .insert_many(documents)
            .await?;
        tenancy::failpoint::hit("import.after_batch");
        let total = self
            .done
            .documents
            .entry(self.collection.clone())
            .or_default();
        *total += count;
        tracing::info!(database = self.db.name(), collection = %self.collection, documents = *total, "import in progress");
        Ok(())
    }
}

/// The lines of a stream of chunks (a request body): split at `\n`, each at most `MAX_LINE`.
pub fn lines<S, E>(chunks: S) -> impl Stream<Item = io::Result<String>>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    struct State<S> {
        chunks: S,
        buffer: Vec<u8>,
        searched: usize,
        done: bool,
    }
    let state = State {
        chunks,
        buffer: Vec::new(),
        searched: 0,
        done: false,
    };
    futures::stream::unfold(state, |mut state| async move {
        loop {
            if let Some(end) = state.buffer[state.searched..]
                .iter()
                .position(|b| *b == b'\n')
            {
                let end = state.searched + end;
                let rest = state.buffer.split_off(end + 1);
                let mut line = std::mem::replace(&mut state.buffer, rest);
                line.pop();
                state.searched = 0;
                return Some((String::from_utf8(line).map_err(io::Error::other), state));
            }
            state.searched = state.buffer.len();
            if state.done {
                if state.buffer.is_empty() {
                    return None;
                }
                let line = std::mem::take(&mut state.buffer);
                state.searched = 0;
                return Some((String::from_utf8(line).map_err(io::Error::other), state));
            }
            if state.buffer.len() > MAX_LINE {
                state.done = true;
                state.buffer.clear();
                let long = io::Error::other(format!("a line is longer than {MAX_LINE} bytes"));
                return Some((Err(long), state));
            }
            match state.chunks.next().await {
                Some(Ok(chunk)) => state.buffer.extend_from_slice(&chunk),
                Some(Err(e)) => {
                    state.done = true;
                    state.buffer.clear();
                    return Some((Err(io::Error::other(e)), state));
                }
                None => state.done = true,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_are_split_across_chunks() {
        let chunks = ["{\"a\":", "1}\n{\"b\"", ":2}\n\n{\"c\":3}"]
            .map(|c| Ok::<_, io::Error>(Bytes::from(c)));
        let got: Vec<String> = lines(futures::stream::iter(chunks))
            .map(|l| l.unwrap())
            .collect()
            .await;
        assert_eq!(got, ["{\"a\":1}", "{\"b\":2}", "", "{\"c\":3}"]);
    }
}
