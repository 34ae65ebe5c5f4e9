//! The source database's change stream, opened before the copy begins: every document written
//! after that point shows up here as a *dirty key* (collection, `_id`) to copy again. Copying a
//! dirty key reads the document's current state (or its absence), so applying keys in any order,
//! or twice, converges on the source's state.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

use mongodb::Database;
use mongodb::bson::{Bson, Document, doc};
use mongodb::change_stream::ChangeStream;
use mongodb::change_stream::event::{ChangeStreamEvent, OperationType};
use mongodb::options::ReturnDocument;

use super::MoveError;

/// How long one fetch from the stream waits for changes when there are none
/// (`maxAwaitTimeMS`).
const POLL: Duration = Duration::from_millis(50);

/// The keys written since the stream opened, by collection (`_id`s in BSON's order).
pub type DirtyKeys = BTreeMap<String, Vec<Bson>>;

pub struct Changes {
    stream: ChangeStream<ChangeStreamEvent<Document>>,
    /// Keys read from the stream and not returned yet (a round that gave up waiting for its
    /// marker keeps them for the next).
    pending: Dirty,
}

impl Changes {
    pub async fn open(db: &Database) -> Result<Changes, MoveError> {
        let stream = db.watch().max_await_time(POLL).await?;
        Ok(Changes {
            stream,
            pending: Dirty::default(),
        })
    }

    /// The keys changed since the last call, up to now: `marker` (an `_id` in the source's
    /// `_meta`) is written, and the stream read until its change shows up, so every change
    /// committed before is in.
    pub async fn caught_up(
        &mut self,
        source: &Database,
        marker: &str,
        within: Duration,
    ) -> Result<DirtyKeys, MoveError> {
        let round = mark(source, marker).await?;
        self.drain_through(marker, round, within).await
    }

    /// The keys changed up to and including the write of `round` of `marker` (an `_id` in
    /// `_meta`): after it, the stream has shown every change committed before. An earlier
    /// round's write (of a round that gave up waiting for it) does not end this one, and the
    /// keys such a round read are returned by this one.
    pub async fn drain_through(
        &mut self,
        marker: &str,
        round: Option<i64>,
        within: Duration,
    ) -> Result<DirtyKeys, MoveError> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match self.stream.next_if_any().await? {
                Some(event) => {
                    let is_marker = is_round_of(&event, marker, round);
                    self.pending.add(event)?;
                    if is_marker {
                        return Ok(std::mem::take(&mut self.pending).keys());
                    }
                }
                None if tokio::time::Instant::now() > deadline => {
                    return Err(MoveError::StreamBehind(within));
                }
                None => {}
            }
        }
    }
}

/// Writes the next round of `marker`; its number.
pub async fn mark(source: &Database, marker: &str) -> Result<Option<i64>, MoveError> {
    let written = source
        .collection::<Document>(crate::meta::META)
        .find_one_and_update(
            doc! {"_id": marker},
            doc! {"$set": {"at": mongodb::bson::DateTime::now()}, "$inc": {"round": 1_i64}},
        )
        .upsert(true)
        .return_document(ReturnDocument::After)
        .await?;
    Ok(written.as_ref().and_then(|m| m.get("round")).and_then(int))
}

/// Whether `event` is the write of `round` of `marker`: its insert, or an update that set it.
fn is_round_of(event: &ChangeStreamEvent<Document>, marker: &str, round: Option<i64>) -> bool {
    let in_meta = event.ns.as_ref().and_then(|ns| ns.coll.as_deref()) == Some(crate::meta::META);
    let key = event
        .document_key
        .as_ref()
        .and_then(|k| k.get_str("_id").ok());
    if !in_meta || key != Some(marker) {
        return false;
    }
    let written = match event.operation_type {
        OperationType::Insert => event.full_document.as_ref().and_then(|d| d.get("round")),
        _ => event
            .update_description
            .as_ref()
            .and_then(|u| u.updated_fields.get("round")),
    };
    written.and_then(int) == round
}

/// A 32- or 64-bit integer (the marker's round, whichever an earlier version stored).
fn int(value: &Bson) -> Option<i64> {
    match value {
        Bson::Int32(n) => Some(i64::from(*n)),
        Bson::Int64(n) => Some(*n),
        _ => None,
    }
}

#[derive(Default)]
struct Dirty {
    keys: BTreeMap<String, BTreeSet<KeyBytes>>,
}

/// An `_id`, ordered and deduplicated by its BSON bytes.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct KeyBytes(Vec<u8>);

impl Dirty {
    fn add(&mut self, event: ChangeStreamEvent<Document>) -> Result<(), MoveError> {
        match event.operation_type {
            OperationType::Insert
            | OperationType::Update
            | OperationType::Replace
            | OperationType::Delete => {}
            // A collection or the database went away under the move (a deletion began): stop.
            other => {
                return Err(MoveError::Changes(format!(
                    "the source changed shape during the move ({other:?})"
                )));
            }
        }
        let (Some(ns), Some(key)) = (event.ns, event.document_key) else {
            return Ok(());
        };
        let (Some(collection), Some(id)) = (ns.coll, key.get("_id")) else {
            return Ok(());
        };
        let bytes = mongodb::bson::to_vec(&doc! {"_id": id.clone()})
            .map_err(|e| MoveError::Changes(format!("an _id cannot be encoded: {e}")))?;
        self.keys
            .entry(collection)
            .or_default()
            .insert(KeyBytes(bytes));
        Ok(())
    }

    fn keys(self) -> DirtyKeys {
        self.keys
            .into_iter()
            .map(|(collection, ids)| {
                let ids = ids
                    .into_iter()
                    .filter_map(|k| {
                        mongodb::bson::from_slice::<Document>(&k.0)
                            .ok()
                            .and_then(|mut d| d.remove("_id"))
                    })
                    .collect();
                (collection, ids)
            })
            .collect()
    }
}

/// How many keys `dirty` holds.
pub fn count(dirty: &DirtyKeys) -> usize {
    dirty.values().map(Vec::len).sum()
}

/// Adds `more` to `into` (each key once).
pub fn merge(into: &mut DirtyKeys, more: DirtyKeys) {
    for (collection, ids) in more {
        let kept = into.entry(collection).or_default();
        let known: HashSet<Vec<u8>> = kept.iter().filter_map(key_bytes).collect();
        kept.extend(
            ids.into_iter()
                .filter(|id| key_bytes(id).is_none_or(|k| !known.contains(&k))),
        );
    }
}

/// After the keys of `compared` were compared again: those in `differ` are unsettled, the
/// others are not any more (equal after their last copy); keys not compared stay as they were.
pub fn settle(unsettled: &mut DirtyKeys, compared: &DirtyKeys, differ: DirtyKeys) {
    for (collection, ids) in compared {
        if let Some(kept) = unsettled.get_mut(collection) {
            let now: HashSet<Vec<u8>> = ids.iter().filter_map(key_bytes).collect();
            kept.retain(|id| key_bytes(id).is_none_or(|k| !now.contains(&k)));
        }
    }
    unsettled.retain(|_, ids| !ids.is_empty());
    merge(unsettled, differ);
}

/// An `_id`'s BSON bytes (`None` if it cannot be encoded: such a key is never deduplicated).
fn key_bytes(id: &Bson) -> Option<Vec<u8>> {
    mongodb::bson::to_vec(&doc! {"_id": id.clone()}).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(operation: &str, key: &str, change: Document) -> ChangeStreamEvent<Document> {
        let mut event = doc! {
            "_id": {"_data": "00"},
            "operationType": operation,
            "ns": {"db": "t_a_1", "coll": crate::meta::META},
            "documentKey": {"_id": key},
        };
        event.extend(change);
        mongodb::bson::from_document(event).expect("a change event")
    }

    fn keys(collection: &str, ids: &[&str]) -> DirtyKeys {
        let ids = ids.iter().map(|id| Bson::from(*id)).collect();
        DirtyKeys::from([(collection.to_string(), ids)])
    }

    #[test]
    fn keys_compared_again_are_unsettled_only_if_they_still_differ() {
        let mut unsettled = keys("orders", &["a", "b"]);
        merge(&mut unsettled, keys("products", &["p"]));
        merge(&mut unsettled, keys("orders", &["b", "c"]));
        assert_eq!(
            unsettled["orders"],
            keys("orders", &["a", "b", "c"])["orders"]
        );
        // b and c compared again: c still differs, b is equal now; a was not compared.
        settle(
            &mut unsettled,
            &keys("orders", &["b", "c", "d"]),
            keys("orders", &["c", "d"]),
        );
        assert_eq!(
            unsettled["orders"],
            keys("orders", &["a", "c", "d"])["orders"]
        );
        // Every key of a collection settled: the collection is gone.
        settle(&mut unsettled, &keys("products", &["p"]), DirtyKeys::new());
        assert!(!unsettled.contains_key("products"));
        assert_eq!(count(&unsettled), 3);
    }

    #[test]
    fn a_round_ends_at_its_own_marker_write_not_an_earlier_one() {
        let inserted = event(
            "insert",
            "move:7",
            doc! {"fullDocument": {"_id": "move:7", "round": 1}},
        );
        assert!(is_round_of(&inserted, "move:7", Some(1)));
        assert!(!is_round_of(&inserted, "move:7", Some(2)));
        let updated = |round: i64| {
            let fields = doc! {"updatedFields": {"round": round}, "removedFields": []};
            event("update", "move:7", doc! {"updateDescription": fields})
        };
        assert!(is_round_of(&updated(3), "move:7", Some(3)));
        // The write of a round that gave up waiting for it, seen by the next round.
        assert!(!is_round_of(&updated(2), "move:7", Some(3)));
        // Another move's marker.
        assert!(!is_round_of(&updated(3), "move:8", Some(3)));
    }
}
