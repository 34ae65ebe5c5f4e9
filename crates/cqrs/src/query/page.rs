//! Cursor pages of a read model in `_id` order.

use futures::TryStreamExt;
use mongodb::Collection;
use mongodb::bson::{Document, doc};
use serde::de::DeserializeOwned;

/// A page of a list: items and the id to continue after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_after: Option<String>,
}

/// `limit` and the position (an id) to continue after.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    pub after: Option<String>,
}

/// One page of `collection`: `filter`, after the page's position, `limit` items (one more is
/// read to know whether another page follows), each turned into its view.
pub async fn find_page<T, V>(
    collection: Collection<T>,
    mut filter: Document,
    page: &PageRequest,
    view: impl Fn(&T) -> V,
    id: impl Fn(&V) -> String,
) -> mongodb::error::Result<Page<V>>
where
    T: DeserializeOwned + Send + Sync,
{
    if let Some(after) = &page.after {
        filter.insert("_id", doc! {"$gt": after});
    }
    let found: Vec<T> = collection
        .find(filter)
        .sort(doc! {"_id": 1})
        .limit(i64::from(page.limit) + 1)
        .await?
        .try_collect()
        .await?;
    let more = found.len() > page.limit as usize;
    let items: Vec<V> = found.iter().take(page.limit as usize).map(view).collect();
    let next_after = if more { items.last().map(id) } else { None };
    Ok(Page { items, next_after })
}
