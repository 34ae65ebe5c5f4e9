//! The read models and the projections that build them from outbox events.
//!
//! To add a projection: write a struct implementing `cqrs::projector::Projection` (`Event =
//! CommerceEvent`, a `name`, the read models it owns with their indexes, and `project`, which
//! turns a run of decoded events into writes — setting state from an event's snapshot, ignoring
//! event types it does not use), list
//! it in `all()`, and add a migration to `schema` that creates its read models (`ensure` on the
//! live generation, like `read_models`). Projections are pure: test them without a database.

mod order_list;
mod product_list;
mod sales;

use std::sync::Arc;

use cqrs::projector::ProjectStored;

pub const PRODUCT_LIST: &str = "product_list";
pub const ORDER_LIST: &str = "order_list";
pub const SALES: &str = "sales";

pub use sales::day_id;

/// Every projection of the domain, in the order they are applied.
pub fn all() -> Vec<Arc<dyn ProjectStored>> {
    vec![
        Arc::new(product_list::ProductList),
        Arc::new(order_list::OrderList),
        Arc::new(sales::Sales),
        Arc::new(crate::customers::CustomerList),
    ]
}
