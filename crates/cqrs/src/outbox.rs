//! The tenant's outbox: domain events appended by commands in their transaction, each at the next
//! position of the tenant's event sequence. Positions are gap-free and strictly increasing: they
//! come from the counter document `_meta.outbox`, incremented in the same transaction, so an
//! aborted command leaves no hole and concurrent commands are serialised by the counter's write
//! conflict.
//!
//! The counter is also the commands' fence: it is only incremented while `state: live` (see
//! `tenancy::meta`), and it is never created on the fly, so a command of a deleted incarnation
//! cannot commit and cannot recreate its database.

use mongodb::bson::{DateTime, Document, doc};
use mongodb::options::ReturnDocument;
use mongodb::{ClientSession, Database};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tenancy::meta::{META, live_fence};

use crate::Envelope;

pub const OUTBOX: &str = "outbox";
/// The `_meta` document holding the last position.
pub const OUTBOX_COUNTER: &str = "outbox";

/// An event as stored in the outbox (`_id` is its position).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredEvent {
    #[serde(rename = "_id")]
    pub position: i64,
    /// Unique across positions and time: tells this event from another that took its position
    /// after the database lost it (see the projector's divergence check).
    #[serde(default)]
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub payload: Document,
    pub occurred_at: DateTime,
    pub correlation_id: String,
    pub actor: String,
}

/// An event a command wants to append.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub event_type: String,
    pub payload: Document,
}

impl NewEvent {
    /// A domain event, serialised as `{"type": ..., "payload": ...}`: a domain's event enum with
    /// `#[serde(tag = "type", content = "payload")]`.
    pub fn of<E: Serialize>(event: &E) -> Result<NewEvent, mongodb::bson::ser::Error> {
        let mut tagged = mongodb::bson::to_document(event)?;
        let event_type = match tagged.remove("type") {
            Some(mongodb::bson::Bson::String(t)) => t,
            _ => {
                return Err(<mongodb::bson::ser::Error as serde::ser::Error>::custom(
                    "an event serialises as {type, payload}",
                ));
            }
        };
        let payload = match tagged.remove("payload") {
            Some(mongodb::bson::Bson::Document(p)) => p,
            _ => Document::new(),
        };
        Ok(NewEvent {
            event_type,
            payload,
        })
    }
}

impl StoredEvent {
    /// The event as the domain's event type (`{"type", "payload"}` adjacently tagged enum). A
    /// type the enum does not know decodes to its `#[serde(other)]` unit variant (serde accepts
    /// that variant only without content, hence the second attempt without the payload); a
    /// payload that does not fit its type is an error (the projection dead-letters it).
    pub fn decode<E: DeserializeOwned>(&self) -> Result<E, String> {
        let tagged = doc! {"type": &self.event_type, "payload": &self.payload};
        mongodb::bson::from_document(tagged).or_else(|error| {
            mongodb::bson::from_document(doc! {"type": &self.event_type})
                .map_err(|_| format!("event {} ({}): {error}", self.position, self.event_type))
        })
    }
}

/// The outbox cannot take events: the tenant's incarnation is being deleted (or its database is
/// not one of ours).
#[derive(Debug, thiserror::Error)]
#[error("the tenant's outbox is fenced: it is being deleted")]
pub struct Fenced;

/// Takes the next `count` positions of the tenant's sequence in the session's transaction and
/// returns the last of them (the current position when `count` is 0: the fence is passed all
/// the same). The events themselves are written by the caller (`stored`), in the same
/// transaction.
pub async fn reserve(
    db: &Database,
    session: &mut ClientSession,
    count: usize,
) -> mongodb::error::Result<Result<i64, Fenced>> {
    let counter = db
        .collection::<Document>(META)
        .find_one_and_update(
            live_fence(OUTBOX_COUNTER),
            // `commits` moves even when there are no events: passing the fence is a write.
            doc! {"$inc": {"position": count as i64, "commits": 1_i64}},
        )
        .return_document(ReturnDocument::After)
        .session(&mut *session)
        .await?;
    Ok(counter
        .and_then(|c| c.get_i64("position").ok())
        .ok_or(Fenced))
}

/// `events` as stored at the positions `reserve` handed out, `last` being the last of them.
pub fn stored<M>(envelope: &Envelope<M>, events: &[NewEvent], last: i64) -> Vec<StoredEvent> {
    let first = last - events.len() as i64 + 1;
    let now = DateTime::now();
    events
        .iter()
        .zip(first..)
        .map(|(e, position)| StoredEvent {
            position,
            id: uuid::Uuid::now_v7().to_string(),
            event_type: e.event_type.to_string(),
            payload: e.payload.clone(),
            occurred_at: now,
            correlation_id: envelope.correlation_id().to_string(),
            actor: envelope.actor().to_string(),
        })
        .collect()
}

/// The position of the tenant's last event (0 when none).
pub async fn last_position(db: &Database) -> mongodb::error::Result<i64> {
    let counter = db
        .collection::<Document>(META)
        .find_one(doc! {"_id": OUTBOX_COUNTER})
        .await?;
    Ok(counter
        .and_then(|c| c.get_i64("position").ok())
        .unwrap_or(0))
}
