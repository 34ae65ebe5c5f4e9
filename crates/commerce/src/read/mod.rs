//! The read side: queries answered from read models (projections) only, never from the write
//! model. A query with `min_position` waits until the tenant's projections have applied it
//! (read-your-writes) and then reads from the primary; other queries use the configured read
//! preference (e.g. secondary-preferred) and may be slightly stale.
//!
//! To add a query: define the message (`impl Message`, `impl Query`) with a `min_position`,
//! implement `Handler<YourQuery> for CommerceReads` reading through `self.read_db(...)`, and call it
//! from a route with `state.queries.dispatch(envelope)`.

mod orders;
mod products;
mod reports;

use std::time::Duration;

use cqrs::Envelope;
use cqrs::projector::wait_for_position;
use futures::TryStreamExt;
use mongodb::Database;
use mongodb::bson::{Document, doc};
use mongodb::options::{DatabaseOptions, SelectionCriteria};
use serde::de::DeserializeOwned;
use tenancy::clusters::{ClusterPools, TenantDb};

pub use orders::{GetOrder, ListOrders};
pub use products::{GetProduct, ListProducts};
pub use reports::{DailySales, ProductSales, SalesReport, TopProducts};

use crate::error::{CommerceError, Result};

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

/// The query handlers.
#[derive(Clone)]
pub struct CommerceReads {
    pools: ClusterPools,
    projections: Vec<&'static str>,
    read_preference: Option<SelectionCriteria>,
    max_wait: Duration,
}

impl CommerceReads {
    pub fn new(
        pools: ClusterPools,
        projections: Vec<&'static str>,
        read_preference: Option<SelectionCriteria>,
        max_wait: Duration,
    ) -> CommerceReads {
        CommerceReads {
            pools,
            projections,
            read_preference,
            max_wait,
        }
    }

    /// The read-model database for a query: after waiting for `min_position` if given.
    async fn read_db<M>(
        &self,
        envelope: &Envelope<M>,
        min_position: Option<i64>,
    ) -> Result<(TenantDb, Database)> {
        let db = self.pools.tenant_db(envelope.ctx()).await?;
        let read = match min_position {
            Some(position) => {
                if !wait_for_position(db.database(), &self.projections, position, self.max_wait)
                    .await?
                {
                    return Err(CommerceError::ProjectionLagging(position));
                }
                db.database().clone()
            }
            None => match &self.read_preference {
                None => db.database().clone(),
                Some(preference) => {
                    let options = DatabaseOptions::builder()
                        .selection_criteria(preference.clone())
                        .build();
                    db.client()
                        .database_with_options(db.database().name(), options)
                }
            },
        };
        Ok((db, read))
    }
}

/// One page of a read model in `_id` order: `filter`, after the page's position, `limit` items
/// (one more is read to know whether another page follows).
async fn find_page<T, V>(
    db: &Database,
    collection: &str,
    mut filter: Document,
    page: &PageRequest,
    view: impl Fn(&T) -> V,
    id: impl Fn(&V) -> String,
) -> Result<Page<V>>
where
    T: DeserializeOwned + Send + Sync,
{
    if let Some(after) = &page.after {
        filter.insert("_id", doc! {"$gt": after});
    }
    let found: Vec<T> = db
        .collection::<T>(collection)
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
