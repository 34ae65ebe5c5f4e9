//! A handler that panics answers `500 internal` as a problem document with the request id (the
//! problem layer renders it), instead of the connection dropping; the panic's message goes to
//! the log within the request's span.

use std::any::Any;

use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;

use super::ApiError;

/// The layer that turns a handler's panic into a problem.
pub fn catch_panics() -> CatchPanicLayer<fn(Box<dyn Any + Send>) -> Response> {
    CatchPanicLayer::custom(panic_problem as fn(Box<dyn Any + Send>) -> Response)
}

fn panic_problem(cause: Box<dyn Any + Send>) -> Response {
    let message = cause
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| cause.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(a panic without a message)");
    tracing::error!(panic = message, "a request handler panicked");
    ApiError::unexpected().into_response()
}
