//! The read models and the projections that build them from outbox events.
//!
//! To add a projection: write a struct implementing `cqrs::projector::Projection` (a `name`, the
//! read models it owns with their indexes, and `apply` that sets state from an event's snapshot
//! and ignores event types it does not use), list it in `all()`, and add a migration to
//! `schema` that creates its read models (`ensure` on the live generation, like `read_models`).

mod daily_sales;
mod order_list;
mod product_list;
mod product_sales;

use std::sync::Arc;

use cqrs::projector::Projection;

pub const PRODUCT_LIST: &str = "product_list";
pub const ORDER_LIST: &str = "order_list";
pub const SALES_DAILY: &str = "sales_daily";
pub const PRODUCT_SALES: &str = "product_sales";

/// Every projection of the domain, in the order they are applied.
pub fn all() -> Vec<Arc<dyn Projection>> {
    vec![
        Arc::new(product_list::ProductList),
        Arc::new(order_list::OrderList),
        Arc::new(daily_sales::DailySales),
        Arc::new(product_sales::ProductSales),
    ]
}
