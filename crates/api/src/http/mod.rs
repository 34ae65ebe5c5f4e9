//! HTTP plumbing shared by every route: problem errors, request ids, error mapping.

mod errors;
mod problem;
pub mod request_id;

pub use problem::{ApiError, FieldError, render_problems};
pub use request_id::{RequestId, assign_request_id};
pub use tenancy::ErrorChain;
