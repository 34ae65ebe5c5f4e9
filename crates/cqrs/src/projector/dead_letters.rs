//! Dead letters: events a projection could not apply, kept as `_meta` documents
//! `dead_letter:<generation>:<projection>:<position>` (so a generation's letters are one `_id`
//! range) with the event, the reason and when.

use mongodb::bson::{DateTime, Document, doc};
use mongodb::{ClientSession, Database};
use tenancy::meta::{META, id_prefix};

use crate::outbox::StoredEvent;
use crate::read_models::Generation;

const PREFIX: &str = "dead_letter:";

fn of_generation(generation: Generation) -> String {
    format!("{PREFIX}{generation}:")
}

/// A letter's `_id`: one per projection, generation and event.
fn id(generation: Generation, projection: &str, position: i64) -> String {
    format!("{}{projection}:{position}", of_generation(generation))
}

/// Records that `projection` could not apply `event` in `generation`, in the session's
/// transaction (the one that moves its checkpoint past the event).
pub(crate) async fn write(
    db: &Database,
    session: &mut ClientSession,
    projection: &str,
    generation: Generation,
    event: &StoredEvent,
    error: &str,
) -> mongodb::error::Result<()> {
    let letter = doc! {
        "_id": id(generation, projection, event.position),
        "projection": projection,
        "generation": generation as i32,
        "position": event.position,
        "type": &event.event_type,
        "payload": &event.payload,
        "error": error,
        "at": DateTime::now(),
    };
    db.collection::<Document>(META)
        .insert_one(letter)
        .session(session)
        .await?;
    Ok(())
}

/// How many letters `generation` has.
pub(crate) async fn count(db: &Database, generation: Generation) -> mongodb::error::Result<u64> {
    db.collection::<Document>(META)
        .count_documents(id_prefix(&of_generation(generation)))
        .await
}

/// Removes the letters of every generation but `keep`.
pub(crate) async fn retire(db: &Database, keep: &[Generation]) -> mongodb::error::Result<()> {
    let keep: Vec<i32> = keep.iter().map(|g| *g as i32).collect();
    let mut filter = id_prefix(PREFIX);
    filter.insert("generation", doc! {"$nin": keep});
    db.collection::<Document>(META).delete_many(filter).await?;
    Ok(())
}

/// A letter of the `_dead_letters` collection (before letters moved into `_meta`), as written now.
pub(crate) fn moved_letter(mut letter: Document) -> Option<Document> {
    let generation = Generation::try_from(letter.get_i32("generation").ok()?).ok()?;
    let position = letter.get_i64("position").ok()?;
    let projection = letter.get_str("projection").ok()?.to_string();
    letter.insert("_id", id(generation, &projection, position));
    Some(letter)
}
