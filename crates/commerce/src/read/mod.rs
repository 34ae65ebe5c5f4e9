//! The read side: queries answered from read models (projections) only, never from the write
//! model. A query with `min_position` waits until the tenant's projections have applied it
//! (read-your-writes); others may be slightly stale. `cqrs::query::Reads` does both and hands
//! each query a `ReadDb` and holds the tenant's budget slot while the query reads.
//!
//! To add a query: define the message (`impl Message`, `impl Query`) with a `min_position`,
//! implement `Handler<YourQuery> for CommerceReads` reading through `self.read(...)`, and call
//! it from a route with `state.queries.dispatch(envelope)`.

mod orders;
mod products;
mod reports;

use cqrs::Envelope;
use cqrs::query::{ReadDb, Reads};

pub use cqrs::query::{Page, PageRequest};
pub use orders::{GetOrder, ListOrders};
pub use products::{GetProduct, ListProducts};
pub use reports::{DailySales, ProductSales, SalesReport, TopProducts};

use crate::error::Result;

/// The query handlers.
#[derive(Clone)]
pub struct CommerceReads {
    reads: Reads,
}

impl CommerceReads {
    pub fn new(reads: Reads) -> CommerceReads {
        CommerceReads { reads }
    }

    /// Runs `query` on the tenant's read models (see `Reads::read`): it may run twice, so it
    /// only reads.
    pub(crate) async fn read<M, T, Q, F>(
        &self,
        envelope: &Envelope<M>,
        min_position: Option<i64>,
        query: Q,
    ) -> Result<T>
    where
        Q: Fn(ReadDb) -> F,
        F: Future<Output = Result<T>>,
    {
        self.reads.read(envelope, min_position, query).await
    }
}
