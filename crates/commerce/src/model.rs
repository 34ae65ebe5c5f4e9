//! The write model: products and orders as stored (`products`, `orders`), and the views the API
//! returns for them. Money is integer cents; `version` starts at 1 and grows by 1 per change.

use mongodb::bson::DateTime;
use serde::{Deserialize, Serialize};

/// A product of the tenant's catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    #[serde(rename = "_id")]
    pub id: String,
    pub sku: String,
    pub name: String,
    pub price_cents: i64,
    pub stock: i64,
    pub version: i64,
    pub created_at: DateTime,
    pub updated_at: DateTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Placed,
    Cancelled,
    Fulfilled,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Placed => "placed",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Fulfilled => "fulfilled",
        }
    }

    pub fn parse(raw: &str) -> Option<OrderStatus> {
        [Self::Placed, Self::Cancelled, Self::Fulfilled]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Customer {
    pub id: String,
    pub name: String,
}

/// A line of an order, with the product's sku, name and price snapshotted when it was placed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderLine {
    pub product_id: String,
    pub sku: String,
    pub name: String,
    pub qty: i64,
    pub price_cents: i64,
    pub line_total_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    #[serde(rename = "_id")]
    pub id: String,
    pub customer: Customer,
    pub lines: Vec<OrderLine>,
    pub total_cents: i64,
    pub status: OrderStatus,
    pub version: i64,
    pub placed_at: DateTime,
    pub updated_at: DateTime,
}

fn rfc3339(d: DateTime) -> String {
    tenancy::time::rfc3339(d)
}

/// A product as the API shows it (`ProductView`), from the write model or the product-list view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProductView {
    pub id: String,
    pub sku: String,
    pub name: String,
    pub price_cents: i64,
    pub stock: i64,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Product> for ProductView {
    fn from(p: &Product) -> ProductView {
        ProductView {
            id: p.id.clone(),
            sku: p.sku.clone(),
            name: p.name.clone(),
            price_cents: p.price_cents,
            stock: p.stock,
            version: p.version,
            created_at: rfc3339(p.created_at),
            updated_at: rfc3339(p.updated_at),
        }
    }
}

/// An order as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderView {
    pub id: String,
    pub customer: Customer,
    pub lines: Vec<OrderLine>,
    pub total_cents: i64,
    pub status: OrderStatus,
    pub version: i64,
    pub placed_at: String,
    pub updated_at: String,
}

impl From<&Order> for OrderView {
    fn from(o: &Order) -> OrderView {
        OrderView {
            id: o.id.clone(),
            customer: o.customer.clone(),
            lines: o.lines.clone(),
            total_cents: o.total_cents,
            status: o.status,
            version: o.version,
            placed_at: rfc3339(o.placed_at),
            updated_at: rfc3339(o.updated_at),
        }
    }
}

/// A new server-generated id (UUID v7: time-ordered, so lists paginate in creation order).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
