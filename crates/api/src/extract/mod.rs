//! Request extractors whose rejections are problem documents.

mod fields;
mod json_body;
mod pagination;
mod query;

pub use fields::{Errors, Field, Fields, Nullable, parsed, reject};
pub use json_body::{Body, JsonObject};
pub use pagination::{Cursor, PageParams, PageQuery};
pub use query::{Bounded, QueryMap, QueryValue};
