//! `X-Request-Id`: echoed when the client sent a sane one (visible ASCII, at most 128 bytes),
//! generated (UUID v7) otherwise; stored in the request's extensions and set on every response.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

pub const X_REQUEST_ID: &str = "x-request-id";

#[derive(Debug, Clone, Default)]
pub struct RequestId(String);

impl RequestId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn from_client(value: &HeaderValue) -> Option<RequestId> {
        let raw = value.to_str().ok()?;
        let sane = !raw.is_empty() && raw.len() <= 128 && raw.bytes().all(|b| b.is_ascii_graphic());
        sane.then(|| RequestId(raw.to_string()))
    }
}

pub async fn assign_request_id(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(X_REQUEST_ID)
        .and_then(RequestId::from_client)
        .unwrap_or_else(|| RequestId(uuid::Uuid::now_v7().to_string()));
    request.extensions_mut().insert(id.clone());
    let mut response = next.run(request).await;
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        response.headers_mut().insert(X_REQUEST_ID, value);
    }
    response
}
