//! `Idempotency-Key` for creating commands: the first response (body and event position) is
//! recorded in the tenant's `idempotency_keys` *in the command's transaction*, so a replay sees
//! exactly what the first request committed, and two concurrent requests with one key create one
//! resource (the second's insert of the record conflicts, it aborts, and replays the first).

use mongodb::bson::{DateTime, Document, doc, from_document, to_document};
use mongodb::{ClientSession, Database};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::Committed;
use crate::error::{CommerceError, Result, is_duplicate_key};

const KEYS: &str = "idempotency_keys";

/// A client's key, scoped to one route, with the hash of the request it came with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    id: String,
    request_hash: String,
}

impl IdempotencyKey {
    /// `scope` names the route (`POST /v1/orders`); `request` is the normalised request body.
    pub fn new(scope: &str, key: &str, request: &serde_json::Value) -> IdempotencyKey {
        let digest = Sha256::digest(request.to_string().as_bytes());
        IdempotencyKey {
            id: format!("{scope}:{key}"),
            request_hash: hex::encode(digest),
        }
    }

    /// Whether a client-supplied key is acceptable (1 to 255 visible ASCII characters).
    pub fn is_well_formed(key: &str) -> bool {
        (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
    }
}

/// The recorded outcome of `key`, if any; a key recorded with another request is an error.
pub async fn replay<T: DeserializeOwned>(
    db: &Database,
    key: Option<&IdempotencyKey>,
) -> Result<Option<Committed<T>>> {
    let Some(key) = key else { return Ok(None) };
    let Some(record) = db
        .collection::<Document>(KEYS)
        .find_one(doc! {"_id": &key.id})
        .await?
    else {
        return Ok(None);
    };
    if record.get_str("request_hash").ok() != Some(key.request_hash.as_str()) {
        return Err(CommerceError::IdempotencyKeyReused);
    }
    let value = from_document(record.get_document("response").cloned().unwrap_or_default())?;
    let position = record.get_i64("position").unwrap_or(0);
    Ok(Some(Committed {
        value,
        position,
        replayed: true,
    }))
}

/// Claims the key first thing in the command's transaction, so a concurrent duplicate conflicts
/// here, before it touches the write model.
pub async fn claim(db: &Database, session: &mut ClientSession, key: &IdempotencyKey) -> Result<()> {
    let record =
        doc! {"_id": &key.id, "request_hash": &key.request_hash, "created_at": DateTime::now()};
    match db
        .collection::<Document>(KEYS)
        .insert_one(record)
        .session(session)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_duplicate_key(&e) => Err(CommerceError::IdempotencyRace),
        Err(e) => Err(e.into()),
    }
}

/// Records the outcome on the claimed key, in the same transaction.
pub async fn complete<T: Serialize>(
    db: &Database,
    session: &mut ClientSession,
    key: &IdempotencyKey,
    value: &T,
    position: i64,
) -> Result<()> {
    let set = doc! {"$set": {"response": to_document(value)?, "position": position}};
    db.collection::<Document>(KEYS)
        .update_one(doc! {"_id": &key.id}, set)
        .session(session)
        .await?;
    Ok(())
}

/// The outcome of a key a concurrent request has claimed: waits (briefly) for it to commit.
pub async fn replay_after_race<T: DeserializeOwned>(
    db: &Database,
    key: Option<&IdempotencyKey>,
) -> Result<Committed<T>> {
    for _ in 0..250 {
        if let Some(done) = replay(db, key).await? {
            return Ok(done);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    Err(CommerceError::IdempotencyRace)
}
