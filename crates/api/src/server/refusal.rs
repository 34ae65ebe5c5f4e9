//! The answer to a connection the server cannot take: `503 unavailable` as a problem document
//! with `Retry-After` and `Connection: close`, written straight to the socket (the connection
//! never reaches hyper or the router), then the socket is closed. Also the same problem as a
//! response, for a request that arrives on a connection just chosen for eviction.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::http::ProblemCode;
use crate::http::request_id::X_REQUEST_ID;

const RETRY_AFTER_SECS: u64 = 1;
const DETAIL: &str = "the server is at its connection limit; retry shortly";

fn problem_json(request_id: &str) -> String {
    let code = ProblemCode::Unavailable;
    serde_json::json!({
        "type": format!("urn:tenantry:problem:{code}"),
        "title": code.title(),
        "status": code.status().as_u16(),
        "detail": DETAIL,
        "code": code,
        "request_id": request_id,
    })
    .to_string()
}

fn new_request_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// The complete HTTP/1.1 response, bytes on the wire.
fn raw_response() -> Vec<u8> {
    let request_id = new_request_id();
    let body = problem_json(&request_id);
    format!(
        "HTTP/1.1 503 Service Unavailable\r\n\
         content-type: application/problem+json\r\n\
         content-length: {}\r\n\
         retry-after: {RETRY_AFTER_SECS}\r\n\
         x-request-id: {request_id}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Answers 503 on a connection that was not admitted, then closes it. Bounded in time: a client
/// that does not read is simply dropped.
pub async fn refuse(mut stream: TcpStream) {
    let answer = async {
        stream.write_all(&raw_response()).await?;
        stream.shutdown().await?;
        // Read what the client sent until it closes, so that closing does not reset the
        // connection (a reset may discard the answer before the client reads it).
        let mut sink = [0u8; 1024];
        while stream.read(&mut sink).await? > 0 {}
        std::io::Result::Ok(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), answer).await;
}

/// The same problem as a response, closing its connection.
pub fn response() -> Response {
    let request_id = new_request_id();
    let mut response = Response::new(Body::from(problem_json(&request_id)));
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    if let Ok(id) = HeaderValue::from_str(&request_id) {
        headers.insert(X_REQUEST_ID, id);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_raw_answer_is_a_complete_problem_response() {
        let raw = String::from_utf8(raw_response()).unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
        assert!(head.contains(&format!("content-length: {}", body.len())));
        assert!(head.contains("connection: close") && head.contains("retry-after: 1"));
        let problem: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(problem["code"], "unavailable");
        let id = problem["request_id"].as_str().unwrap();
        assert!(head.contains(&format!("x-request-id: {id}")));
    }
}
