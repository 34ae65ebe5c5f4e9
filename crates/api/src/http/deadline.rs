//! The request deadline (`TENANTRY_REQUEST_TIMEOUT_SECS`): a request not answered by then gets
//! 503 (a problem document, like every error). A tenant import is exempt: it lasts as long as
//! its stream, and logs its progress. (An export's answer starts at once; its stream is not
//! bounded either.)

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Whether the request is a tenant import (`POST /admin/tenants/{id}/import`).
fn is_import(request: &Request) -> bool {
    let path = request.uri().path();
    request.method() == Method::POST
        && path.starts_with("/admin/tenants/")
        && path.ends_with("/import")
}

pub async fn enforce_deadline(
    State(timeout): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    if is_import(&request) {
        return next.run(request).await;
    }
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}
