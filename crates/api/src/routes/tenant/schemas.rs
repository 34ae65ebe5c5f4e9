//! Documentation shapes of tenant-route bodies and lists (the handlers parse bodies field by field
//! with `Fields`, so every bad field is reported; these types only describe them).

#![allow(dead_code)]

use commerce::model::{OrderView, ProductView};
use commerce::read::{DailySales, ProductSales};
use utoipa::ToSchema;

#[derive(ToSchema)]
pub struct ProductForCreate {
    /// 1..64 of `[A-Za-z0-9._-]`, unique in the tenant.
    sku: String,
    name: String,
    price_cents: i64,
    /// Default 0.
    stock: Option<i64>,
}

#[derive(ToSchema)]
pub struct ProductForUpdate {
    name: Option<String>,
    price_cents: Option<i64>,
    stock: Option<i64>,
}

#[derive(ToSchema)]
pub struct CustomerForOrder {
    id: String,
    name: String,
}

#[derive(ToSchema)]
pub struct OrderLineForCreate {
    product_id: String,
    /// 1..10000
    qty: i64,
}

#[derive(ToSchema)]
pub struct OrderForCreate {
    customer: CustomerForOrder,
    /// 1..100 lines, each product once.
    lines: Vec<OrderLineForCreate>,
}

#[derive(ToSchema)]
pub struct ProductList {
    items: Vec<ProductView>,
    next_cursor: Option<String>,
}

#[derive(ToSchema)]
pub struct OrderList {
    items: Vec<OrderView>,
    next_cursor: Option<String>,
}

#[derive(ToSchema)]
pub struct SalesReportItems {
    items: Vec<DailySales>,
}

#[derive(ToSchema)]
pub struct TopProductsItems {
    items: Vec<ProductSales>,
}
