//! HTTP plumbing shared by every route: problem errors, request ids, strict framing, caught
//! panics, error mapping.

mod errors;
pub mod framing;
mod panics;
mod problem;
pub mod request_id;

pub use framing::check_framing;
pub use panics::catch_panics;
pub use problem::{ApiError, FieldError, render_problems};
pub use request_id::{RequestId, assign_request_id};
pub use tenancy::ErrorChain;
