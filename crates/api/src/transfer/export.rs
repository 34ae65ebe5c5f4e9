//! `export`: the data collections as NDJSON lines, read in one read-only transaction at
//! snapshot read concern: every collection as of the same point in time, while the tenant keeps
//! serving (a snapshot session alone is not enough everywhere: SecantusDB accepts it without
//! pinning its reads, and a test catches that).

use mongodb::Database;
use mongodb::bson::{Bson, Document};
use mongodb::options::ReadConcern;
use tokio::sync::mpsc;

use super::{Line, Source, by_id};

/// Documents between two progress log lines.
const PROGRESS_EVERY: u64 = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("database error")]
    Database(#[from] mongodb::error::Error),
    #[error("a document cannot be written as JSON")]
    Encode(#[from] serde_json::Error),
}

/// Sends every document of `sources` to `lines`, one NDJSON line each, source by source in
/// `_id` order; returns how many were sent. Stops early (with what was sent) when
/// the receiver goes away. An export must finish within the server's transaction lifetime
/// (MongoDB's `transactionLifetimeLimitSeconds`, 60 s by default: raise it for large tenants).
pub async fn export(
    db: &Database,
    sources: &[Source],
    lines: mpsc::Sender<std::io::Result<Vec<u8>>>,
) -> Result<u64, ExportError> {
    let mut session = db.client().start_session().await?;
    session
        .start_transaction()
        .read_concern(ReadConcern::snapshot())
        .await?;
    let mut sent = 0_u64;
    for source in sources {
        let name = &source.collection;
        let mut cursor = db
            .collection::<Document>(name)
            .find(source.filter())
            .sort(by_id())
            .session(&mut session)
            .await?;
        while let Some(document) = cursor.next(&mut session).await.transpose()? {
            let line = Line {
                collection: name.clone(),
                document: Bson::Document(document).into_canonical_extjson(),
            };
            let mut bytes = serde_json::to_vec(&line)?;
            bytes.push(b'\n');
            if lines.send(Ok(bytes)).await.is_err() {
                session.abort_transaction().await?;
                return Ok(sent);
            }
            sent += 1;
            if sent.is_multiple_of(PROGRESS_EVERY) {
                tracing::info!(database = db.name(), documents = sent, collection = %name, "export in progress");
            }
        }
    }
    // It wrote nothing: ending it either way releases its snapshot.
    session.abort_transaction().await?;
    tracing::info!(database = db.name(), documents = sent, "export finished");
    Ok(sent)
}
