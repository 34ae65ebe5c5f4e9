//! `Idempotency-Key` for creating commands: the first response (body and event position) is
//! recorded in the tenant's `idempotency_keys` *in the command's transaction*, so a replay sees
//! exactly what the first request committed. The key is claimed first thing in the transaction:
//! a duplicate of a committed request fails there (and is answered from the record), a duplicate
//! of one still in flight conflicts there (and waits for it, within the transaction deadline).

use mongodb::bson::{DateTime, Document, doc, from_document, to_document};
use mongodb::{ClientSession, Database};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::{CommandError, Committed};
use crate::schema::IDEMPOTENCY_KEYS;

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

/// What claiming found.
pub(super) enum Claim {
    Claimed,
    /// A committed request holds the key.
    Taken,
}

pub(super) async fn claim(
    db: &Database,
    session: &mut ClientSession,
    key: &IdempotencyKey,
) -> mongodb::error::Result<Claim> {
    let record =
        doc! {"_id": &key.id, "request_hash": &key.request_hash, "created_at": DateTime::now()};
    match db
        .collection::<Document>(IDEMPOTENCY_KEYS)
        .insert_one(record)
        .session(session)
        .await
    {
        Ok(_) => Ok(Claim::Claimed),
        Err(e) if tenancy::is_duplicate_key(&e) => Ok(Claim::Taken),
        Err(e) => Err(e),
    }
}

/// Records the outcome on the claimed key, in the same transaction.
pub(super) async fn complete<T: Serialize>(
    db: &Database,
    session: &mut ClientSession,
    key: &IdempotencyKey,
    value: &T,
    position: i64,
) -> Result<(), CommandError> {
    let set = doc! {"$set": {"response": to_document(value)?, "position": position}};
    db.collection::<Document>(IDEMPOTENCY_KEYS)
        .update_one(doc! {"_id": &key.id}, set)
        .session(session)
        .await?;
    Ok(())
}

/// The recorded outcome of a key a committed request holds; a key recorded with another
/// request is `IdempotencyKeyReused`.
pub(super) async fn replay<T: DeserializeOwned>(
    db: &Database,
    key: &IdempotencyKey,
) -> Result<Committed<T>, CommandError> {
    let Some(record) = db
        .collection::<Document>(IDEMPOTENCY_KEYS)
        .find_one(doc! {"_id": &key.id})
        .await?
    else {
        // Expired between the claim and this read: the client may simply retry.
        return Err(CommandError::IdempotencyKeyInFlight);
    };
    if record.get_str("request_hash").ok() != Some(key.request_hash.as_str()) {
        return Err(CommandError::IdempotencyKeyReused);
    }
    let value = from_document(record.get_document("response").cloned().unwrap_or_default())?;
    let position = record.get_i64("position").unwrap_or(0);
    Ok(Committed {
        value,
        position,
        replayed: true,
    })
}
