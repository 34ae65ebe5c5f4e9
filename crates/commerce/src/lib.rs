//! The sample domain of Tenantry: a product catalog and orders, built with the `cqrs` crate.
//!
//! ```text
//!   HTTP POST ─▶ CommandBus ─▶ CommerceWrites ─┬─ products / orders  (write model)
//!                                              ├─ outbox (events, gap-free positions)   one transaction
//!                                              └─ _meta (idempotency records)
//!   outbox ─▶ Projector (per cluster) ─▶ projections ─▶ product_list, order_list, sales, customer_list
//!   HTTP GET ─▶ QueryBus ─▶ CommerceReads ─▶ read models (waits for X-Min-Position first)
//! ```
//!
//! - `write`: commands and their handlers; `read`: queries and their handlers;
//!   `projections`: read models; `events`: the event vocabulary; `model`: documents and views.

pub mod customers;
mod error;
pub mod events;
pub mod model;
pub mod projections;
pub mod read;
pub mod schema;
mod validate;
pub mod write;

pub use error::{CommerceError, Result};
