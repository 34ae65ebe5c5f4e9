//! `Idempotency-Key` for creating commands: the first response (body and event position) is
//! recorded as a `_meta` document `idempotency:<route>:<key>` *in the command's transaction*, so a replay sees
//! exactly what the first request committed. The record is written with the command's other
//! new documents (no round trip of its own): a duplicate of a committed request fails there, or
//! earlier on the domain's own checks (a taken sku), and is then answered from the record; a
//! duplicate of one still in flight conflicts with it and waits, within the transaction
//! deadline.

use std::time::Duration;

use mongodb::Database;
use mongodb::bson::{DateTime, Document, doc, from_document, to_document};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::{CommandError, Committed};
use tenancy::meta::META;

use crate::schema::{EXPIRES_AT, IDEMPOTENCY_TTL_SECS};

/// The `_id` prefix of idempotency records in `_meta`.
pub const IDEMPOTENCY_RECORDS: &str = "idempotency:";

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
            id: format!("{IDEMPOTENCY_RECORDS}{scope}:{key}"),
            request_hash: hex::encode(digest),
        }
    }

    /// Whether a client-supplied key is acceptable (1 to 255 visible ASCII characters).
    pub fn is_well_formed(key: &str) -> bool {
        (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
    }
}

/// The key's record: the request's hash and the response it got, at `position`. Inserted with the
/// command's other writes, last thing in its transaction: a duplicate key there means a
/// committed request holds the key (a concurrent one conflicts and is retried until that one
/// commits).
pub(super) fn record<T: Serialize>(
    key: &IdempotencyKey,
    value: &T,
    position: i64,
) -> Result<Document, mongodb::bson::ser::Error> {
    let now = DateTime::now();
    Ok(doc! {
        "_id": &key.id,
        "request_hash": &key.request_hash,
        "response": to_document(value)?,
        "position": position,
        "created_at": now,
        EXPIRES_AT: expiry(now),
    })
}

fn expiry(created_at: DateTime) -> DateTime {
    let ttl = Duration::from_secs(IDEMPOTENCY_TTL_SECS);
    DateTime::from_system_time(created_at.to_system_time() + ttl)
}

/// A record of the `idempotency_keys` collection (before records moved into `_meta`), as written
/// now.
pub(crate) fn moved_record(mut record: Document) -> Option<Document> {
    let id = record.get_str("_id").ok()?.to_string();
    let created_at = *record.get_datetime("created_at").ok()?;
    record.insert("_id", format!("{IDEMPOTENCY_RECORDS}{id}"));
    record.insert(EXPIRES_AT, expiry(created_at));
    Some(record)
}

/// The recorded outcome of the request that holds `key`, if one does; a key recorded with
/// another request is `IdempotencyKeyReused`.
pub(super) async fn recorded<T: DeserializeOwned>(
    db: &Database,
    key: &IdempotencyKey,
) -> Result<Option<Committed<T>>, CommandError> {
    let Some(record) = db
        .collection::<Document>(META)
        .find_one(doc! {"_id": &key.id})
        .await?
    else {
        return Ok(None);
    };
    if record.get_str("request_hash").ok() != Some(key.request_hash.as_str()) {
        return Err(CommandError::IdempotencyKeyReused);
    }
    let value = from_document(record.get_document("response").cloned().unwrap_or_default())?;
    let position = record.get_i64("position").unwrap_or(0);
    Ok(Some(Committed {
        value,
        position,
        replayed: true,
    }))
}
