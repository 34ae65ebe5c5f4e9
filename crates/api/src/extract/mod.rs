//! Request extractors whose rejections are problem documents.

mod fields;
mod json_body;
mod pagination;
mod query;

pub use fields::{FieldValue, Fields};
pub use json_body::JsonObject;
pub use pagination::{Cursor, PageParams};
pub use query::QueryMap;
