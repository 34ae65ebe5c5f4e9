//! Fewer writes for the same result: a batch's writes to one read-model document are merged
//! into one where that changes nothing of the outcome, so projecting a batch costs one write per
//! document it touches, not one per event.
//!
//! A write is merged into the previous write to the same document (same read model, same `_id`)
//! when the one write has exactly the effect of the two in turn:
//! - anything, then a `Put` or a `Delete`: the later one alone (it sets the whole document);
//! - two updates made only of `$set`, `$inc` and `$setOnInsert`: one update with the later
//!   `$set` values, the summed `$inc`s and the earlier `$setOnInsert`s, provided no field is
//!   both set and incremented (or one is a path inside the other), the numbers to add are 64-bit
//!   integers, and the later update does not insert where the earlier one would not.
//!
//! Anything else (a `Put` then an update, other operators) stays as two writes. Writes to
//! different documents are independent, so a merged write keeps the place of the first one.

use std::collections::HashMap;

use mongodb::bson::{Bson, Document};

use super::projection::Write;

/// The operators a merge understands.
const SET: &str = "$set";
const INC: &str = "$inc";
const SET_ON_INSERT: &str = "$setOnInsert";

/// `ops`, with the writes to each document merged as far as they can be.
pub(crate) fn coalesce(ops: Vec<(&'static str, Write)>) -> Vec<(&'static str, Write)> {
    let mut merged: Vec<(&'static str, Write)> = Vec::with_capacity(ops.len());
    let mut last: HashMap<(&'static str, String), usize> = HashMap::new();
    for (model, write) in ops {
        let key = (model, document_key(&write));
        if let Some(&at) = last.get(&key)
            && let Some(one) = merge(&merged[at].1, &write)
        {
            merged[at].1 = one;
            continue;
        }
        last.insert(key, merged.len());
        merged.push((model, write));
    }
    merged
}

fn document_key(write: &Write) -> String {
    match write {
        Write::Put { id, .. } | Write::Update { id, .. } | Write::Delete { id } => id.to_string(),
    }
}

/// The one write with the effect of `earlier` then `later` (on the same document), if any.
fn merge(earlier: &Write, later: &Write) -> Option<Write> {
    match (earlier, later) {
        (_, Write::Put { .. } | Write::Delete { .. }) => Some(later.clone()),
        (
            Write::Update {
                id,
                update: first,
                upsert: first_upserts,
            },
            Write::Update {
                update: second,
                upsert: second_upserts,
                ..
            },
        ) if *first_upserts || !*second_upserts => Some(Write::Update {
            id: id.clone(),
            update: merge_updates(first, second)?,
            upsert: *first_upserts,
        }),
        _ => None,
    }
}

/// `$set`, `$inc` and `$setOnInsert` of `first` then `second` as one update document.
fn merge_updates(first: &Document, second: &Document) -> Option<Document> {
    let known = |u: &Document| {
        u.keys()
            .all(|k| [SET, INC, SET_ON_INSERT].contains(&k.as_str()))
    };
    if !known(first) || !known(second) {
        return None;
    }
    let mut set = operand(first, SET)?;
    let mut inc = operand(first, INC)?;
    let on_insert = operand(first, SET_ON_INSERT)?;
    for (field, value) in operand(second, SET)? {
        if clashes(&set, &field) {
            return None;
        }
        set.insert(field, value);
    }
    for (field, value) in operand(second, INC)? {
        if clashes(&inc, &field) {
            return None;
        }
        let sum = match inc.get(&field) {
            None => value,
            Some(before) => add(before, &value)?,
        };
        inc.insert(field, sum);
    }
    // The later `$setOnInsert` never takes effect: the earlier write inserted the document, or
    // the later one does not insert either.
    operand(second, SET_ON_INSERT)?;
    if overlaps(&set, &inc) || overlaps(&set, &on_insert) || overlaps(&inc, &on_insert) {
        return None;
    }
    let mut update = Document::new();
    for (operator, fields) in [(SET, set), (INC, inc), (SET_ON_INSERT, on_insert)] {
        if !fields.is_empty() {
            update.insert(operator, fields);
        }
    }
    Some(update)
}

/// The fields of `operator` in `update` (none when absent; `None` when it is not a document).
fn operand(update: &Document, operator: &str) -> Option<Document> {
    match update.get(operator) {
        None => Some(Document::new()),
        Some(Bson::Document(fields)) => Some(fields.clone()),
        Some(_) => None,
    }
}

/// The sum of two 64-bit increments. No other type: doubles are not associative
/// (`(x + a) + b` may differ from `x + (a + b)`), and a 32-bit field that overflows on the first
/// of two increments becomes 64-bit where their sum would not.
fn add(a: &Bson, b: &Bson) -> Option<Bson> {
    match (a, b) {
        (Bson::Int64(a), Bson::Int64(b)) => a.checked_add(*b).map(Bson::Int64),
        _ => None,
    }
}

/// Whether `inner` is `outer` or a path inside it.
fn within(inner: &str, outer: &str) -> bool {
    inner == outer
        || inner
            .strip_prefix(outer)
            .is_some_and(|r| r.starts_with('.'))
}

/// Whether a field of `a` is a field of `b`, or a path inside one, or the other way round.
fn overlaps(a: &Document, b: &Document) -> bool {
    a.keys()
        .any(|x| b.keys().any(|y| within(x, y) || within(y, x)))
}

/// Whether `field` is a path inside another field of `fields`, or the other way round (the same
/// field is no clash: the later value replaces or adds to it).
fn clashes(fields: &Document, field: &str) -> bool {
    fields
        .keys()
        .any(|k| k != field && (within(k, field) || within(field, k)))
}

#[cfg(test)]
mod tests {
    use mongodb::bson::doc;

    use super::*;

    fn update(id: &str, update: Document, upsert: bool) -> (&'static str, Write) {
        (
            "m",
            Write::Update {
                id: id.into(),
                update,
                upsert,
            },
        )
    }

    fn put(id: &str, document: Document) -> (&'static str, Write) {
        (
            "m",
            Write::Put {
                id: id.into(),
                document,
            },
        )
    }

    #[test]
    fn increments_of_one_document_are_summed_and_the_first_insert_fields_kept() {
        let ops = vec![
            update(
                "a",
                doc! {"$inc": {"n": 1_i64, "cents": 100_i64}, "$setOnInsert": {"name": "A"}},
                true,
            ),
            update("b", doc! {"$inc": {"n": 1_i64}}, true),
            update(
                "a",
                doc! {"$inc": {"n": 1_i64, "cents": -30_i64}, "$setOnInsert": {"name": "A2"}},
                true,
            ),
        ];
        assert_eq!(
            coalesce(ops),
            [
                update(
                    "a",
                    doc! {"$inc": {"n": 2_i64, "cents": 70_i64}, "$setOnInsert": {"name": "A"}},
                    true
                ),
                update("b", doc! {"$inc": {"n": 1_i64}}, true),
            ]
        );
    }

    #[test]
    fn later_sets_win_and_a_put_or_delete_replaces_what_came_before() {
        let ops = vec![
            update("a", doc! {"$set": {"stock": 5, "version": 2}}, false),
            update("a", doc! {"$set": {"stock": 4, "version": 3}}, false),
            put("b", doc! {"x": 1}),
            put("b", doc! {"x": 2}),
            update("c", doc! {"$inc": {"n": 1_i64}}, true),
            ("m", Write::Delete { id: "c".into() }),
        ];
        assert_eq!(
            coalesce(ops),
            [
                update("a", doc! {"$set": {"stock": 4, "version": 3}}, false),
                put("b", doc! {"x": 2}),
                ("m", Write::Delete { id: "c".into() }),
            ]
        );
    }

    #[test]
    fn what_one_write_cannot_say_stays_two_writes() {
        let cases = [
            // A set then an increment of the same field.
            vec![
                update("a", doc! {"$set": {"n": 5_i64}}, true),
                update("a", doc! {"$inc": {"n": 1_i64}}, true),
            ],
            // A path inside a field the other one sets.
            vec![
                update("a", doc! {"$set": {"s": {"x": 1}}}, false),
                update("a", doc! {"$inc": {"s.x": 1}}, false),
            ],
            // Numbers other than two 64-bit integers.
            vec![
                update("a", doc! {"$inc": {"n": 1_i32}}, true),
                update("a", doc! {"$inc": {"n": 1_i64}}, true),
            ],
            vec![
                update("a", doc! {"$inc": {"n": 1_i32}}, true),
                update("a", doc! {"$inc": {"n": 1_i32}}, true),
            ],
            vec![
                update("a", doc! {"$inc": {"x": 0.1}}, true),
                update("a", doc! {"$inc": {"x": 0.2}}, true),
            ],
            // The later one would insert where the earlier one would not.
            vec![
                update("a", doc! {"$inc": {"n": 1_i64}}, false),
                update("a", doc! {"$inc": {"n": 1_i64}}, true),
            ],
            // Two paths of one document, one inside the other.
            vec![
                update("a", doc! {"$set": {"s": {"x": 1}}}, false),
                update("a", doc! {"$set": {"s.x": 2}}, false),
            ],
            // An operator it does not know.
            vec![
                update("a", doc! {"$push": {"l": 1}}, false),
                update("a", doc! {"$push": {"l": 2}}, false),
            ],
            // An update after a put (the put's document would have to be changed).
            vec![
                put("a", doc! {"n": 1_i64}),
                update("a", doc! {"$inc": {"n": 1_i64}}, false),
            ],
        ];
        for ops in cases {
            assert_eq!(coalesce(ops.clone()), ops);
        }
    }

    #[test]
    fn documents_of_different_read_models_are_not_merged() {
        let ops = vec![
            ("x", Write::Delete { id: "a".into() }),
            ("y", Write::Delete { id: "a".into() }),
        ];
        assert_eq!(coalesce(ops.clone()), ops);
    }
}
