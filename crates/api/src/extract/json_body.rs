//! `JsonObject`: the request body as a JSON object, or a problem (415 wrong media type,
//! 413 too large, 400 malformed JSON or not an object); `Body<T>`: that object read as a
//! request body type (`request_body!`), every bad field in one 400 `validation_failed`.

use crate::http::ProblemCode;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde_json::{Map, Value};

use super::fields::{Errors, Field};
use crate::http::ApiError;

#[derive(Debug)]
pub struct JsonObject(pub Map<String, Value>);

/// A request body of type `T`, with the JSON it was read from (an `Idempotency-Key` is bound
/// to it).
#[derive(Debug)]
pub struct Body<T> {
    pub value: T,
    json: Value,
}

impl<T> Body<T> {
    /// The body as the client sent it.
    pub fn json(&self) -> &Value {
        &self.json
    }
}

impl<S: Send + Sync, T: Field> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let JsonObject(map) = JsonObject::from_request(request, state).await?;
        let json = Value::Object(map);
        let mut errors = Errors::new();
        match T::read(json.clone(), "", &mut errors) {
            Some(value) if errors.is_empty() => Ok(Body { value, json }),
            _ => Err(ApiError::validation(errors)),
        }
    }
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        if !content_type.is_some_and(is_json) {
            return Err(ApiError::new(
                ProblemCode::UnsupportedMediaType,
                "request bodies must be application/json",
            ));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        ProblemCode::PayloadTooLarge,
                        "the request body is over the configured limit",
                    )
                } else {
                    ApiError::field("$", "the request body could not be read")
                }
            })?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(JsonObject(map)),
            Ok(_) => Err(ApiError::field("$", "expected a JSON object")),
            Err(e) => Err(ApiError::field(
                "$",
                format!("malformed JSON at line {} column {}", e.line(), e.column()),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_json;

    #[test]
    fn json_media_types() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(is_json("application/merge-patch+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/x-www-form-urlencoded"));
    }
}
