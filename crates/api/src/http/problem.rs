//! `ApiError`: every error the API returns, as an RFC 9457 problem document.
//!
//! Handlers return `ApiError`; it travels in the response's extensions and is rendered, with the
//! request id, by `render_problems` (the outermost middleware). Responses produced by the router
//! or by layers without a problem (unknown route, wrong method, timeout) are rendered there too,
//! so every error response is `application/problem+json`. Causes are logged, never shown.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::problem_code::ProblemCode;
use super::request_id::RequestId;
use tenancy::ErrorChain;

/// One bad field of a request (`lines[0].qty`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct ApiError {
    /// The code's status, but for a bare status from outside our handlers (`for_status`).
    pub status: StatusCode,
    pub code: ProblemCode,
    pub detail: String,
    pub errors: Vec<FieldError>,
    pub retry_after_secs: Option<u64>,
    /// Extension members of the problem document (RFC 9457 §3.2), e.g. readiness's `checks`.
    pub members: Option<Box<serde_json::Map<String, serde_json::Value>>>,
}

impl ApiError {
    /// The problem `code` (its status and title follow) with a `detail` for the client.
    pub fn new(code: ProblemCode, detail: impl Into<String>) -> ApiError {
        ApiError {
            status: code.status(),
            code,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after_secs: None,
            members: None,
        }
    }

    /// Adds the extension member `name` to the problem document.
    pub fn with_member(mut self, name: &str, value: serde_json::Value) -> ApiError {
        self.members
            .get_or_insert_default()
            .insert(name.to_string(), value);
        self
    }

    pub fn validation(errors: Vec<FieldError>) -> ApiError {
        let detail = format!("{} field(s) are invalid", errors.len());
        ApiError {
            errors,
            ..ApiError::new(ProblemCode::ValidationFailed, detail)
        }
    }

    pub fn field(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::validation(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }

    pub fn unauthorized(detail: impl Into<String>) -> ApiError {
        ApiError::new(ProblemCode::Unauthorized, detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> ApiError {
        ApiError::new(ProblemCode::Forbidden, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> ApiError {
        ApiError::new(ProblemCode::NotFound, detail)
    }

    /// A problem the client may retry after `retry_after_secs` (`Retry-After`).
    pub fn retry_after(
        code: ProblemCode,
        detail: impl Into<String>,
        retry_after_secs: u64,
    ) -> ApiError {
        ApiError {
            retry_after_secs: Some(retry_after_secs),
            ..ApiError::new(code, detail)
        }
    }

    /// An unexpected failure: the cause goes to the log, the client sees only the request id.
    pub fn internal(cause: &(dyn std::error::Error + 'static)) -> ApiError {
        tracing::error!(error = %ErrorChain(cause), "internal error");
        ApiError::unexpected()
    }

    /// `500 internal`, whose cause the caller has logged.
    pub(crate) fn unexpected() -> ApiError {
        ApiError::new(
            ProblemCode::Internal,
            "an unexpected error occurred; quote the request id",
        )
    }

    /// The default problem for a bare status produced outside our handlers.
    fn for_status(status: StatusCode) -> ApiError {
        let (code, detail) = match status {
            StatusCode::NOT_FOUND => (ProblemCode::NotFound, "no such route"),
            StatusCode::METHOD_NOT_ALLOWED => (
                ProblemCode::MethodNotAllowed,
                "this route does not accept this method",
            ),
            StatusCode::PAYLOAD_TOO_LARGE => (
                ProblemCode::PayloadTooLarge,
                "the request body is over the limit",
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                (ProblemCode::UnsupportedMediaType, "send application/json")
            }
            StatusCode::REQUEST_TIMEOUT | StatusCode::SERVICE_UNAVAILABLE => {
                return ApiError::retry_after(
                    ProblemCode::Unavailable,
                    "the request took too long",
                    1,
                );
            }
            s if s.is_client_error() => (ProblemCode::BadRequest, "the request is invalid"),
            _ => {
                return ApiError {
                    status,
                    ..ApiError::unexpected()
                };
            }
        };
        ApiError {
            status,
            ..ApiError::new(code, detail)
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        response.extensions_mut().insert(self);
        response
    }
}

#[derive(Serialize)]
struct ProblemDocument<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: &'a str,
    code: &'a str,
    request_id: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [FieldError],
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    members: Option<&'a serde_json::Map<String, serde_json::Value>>,
}

/// Renders every error response as a problem document carrying the request id.
pub async fn render_problems(request: Request, next: Next) -> Response {
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .cloned()
        .unwrap_or_default();
    let response = next.run(request).await;
    let status = response.status();
    let problem = response.extensions().get::<ApiError>().cloned();
    // A bare status, or the text/plain body of one of axum's own rejections (a path that does
    // not decode, ...): rendered as the problem of that status.
    let is_plain_error = (status.is_client_error() || status.is_server_error())
        && response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_none_or(|t| t.as_bytes().starts_with(b"text/plain"));
    let problem = match problem {
        Some(problem) => problem,
        None if is_plain_error => ApiError::for_status(status),
        None => return response,
    };
    let (mut parts, _) = response.into_parts();
    let document = ProblemDocument {
        kind: format!("urn:tenantry:problem:{}", problem.code),
        title: problem.code.title(),
        status: problem.status.as_u16(),
        detail: &problem.detail,
        code: problem.code.as_str(),
        request_id: request_id.as_str(),
        errors: &problem.errors,
        members: problem.members.as_deref(),
    };
    let body = serde_json::to_vec(&document).unwrap_or_default();
    parts.status = problem.status;
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    if let Some(secs) = problem.retry_after_secs {
        parts
            .headers
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    if problem.status == StatusCode::UNAUTHORIZED {
        let challenge = HeaderValue::from_static("Bearer error=\"invalid_token\"");
        parts.headers.insert(header::WWW_AUTHENTICATE, challenge);
    }
    Response::from_parts(parts, Body::from(body))
}
