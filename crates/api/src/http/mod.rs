//! HTTP plumbing shared by every route: problem errors, request ids, strict framing, caught
//! panics, error mapping, request metrics.

mod deadline;
mod errors;
pub mod framing;
mod panics;
mod problem;
mod problem_code;
pub mod request_id;
mod request_metrics;

pub use deadline::enforce_deadline;
pub use framing::check_framing;
pub use panics::catch_panics;
pub use problem::{ApiError, FieldError, render_problems};
pub use problem_code::ProblemCode;
pub use request_id::{RequestId, assign_request_id};
pub use request_metrics::record_request;
pub use tenancy::ErrorChain;
