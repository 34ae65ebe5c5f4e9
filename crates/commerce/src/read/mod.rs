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
use mongodb::Database;
use mongodb::options::{DatabaseOptions, SelectionCriteria};
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
            None => {
                let options = DatabaseOptions::builder()
                    .selection_criteria(self.read_preference.clone())
                    .build();
                db.client()
                    .database_with_options(db.database().name(), options)
            }
        };
        Ok((db, read))
    }
}

fn page_of<T>(mut items: Vec<T>, limit: u32, id: impl Fn(&T) -> String) -> Page<T> {
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next_after = if more { items.last().map(id) } else { None };
    Page { items, next_after }
}
