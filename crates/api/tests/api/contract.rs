//! The OpenAPI document as a contract every test holds the server to: each request a test
//! sends through `ApiRequest` (what `TestApp::request`, `admin` and `v1` give) and each answer
//! it gets are checked against the document the server itself serves at `/openapi.json`:
//!
//! - the answer's status is documented for the operation, and so is its content type;
//! - a JSON answer is valid by the documented schema (JSON Schema 2020-12, the `jsonschema`
//!   crate), and a problem's `code` is one the status documents;
//! - a JSON request the server accepted (2xx) is valid by the documented request body.
//!
//! A route the document does not have (a test of the 404 fallback) is not checked. Any other
//! difference fails the test with the operation, the status and what differs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use jsonschema::Validator;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::Serialize;
use serde_json::Value;

/// The document, and the validators compiled from it so far (by JSON pointer).
pub struct Contract {
    document: Value,
    validators: Mutex<HashMap<String, Arc<Validator>>>,
}

impl Contract {
    /// The document `base` serves.
    pub async fn of(http: &reqwest::Client, base: &str) -> Arc<Contract> {
        let document: Value = http
            .get(format!("{base}/openapi.json"))
            .send()
            .await
            .expect("the server answers")
            .json()
            .await
            .expect("the OpenAPI document is JSON");
        Arc::new(Contract {
            document,
            validators: Mutex::new(HashMap::new()),
        })
    }

    /// The operation of `method` on the documented path `path` matches (most literal segments
    /// first), as a JSON pointer into the document.
    fn operation(&self, method: &Method, path: &str) -> Option<String> {
        let paths = self.document["paths"].as_object()?;
        let segments: Vec<&str> = path.split('/').collect();
        let literal = |template: &str| template.split('/').filter(|s| !s.starts_with('{')).count();
        let mut matching: Vec<&String> = paths
            .keys()
            .filter(|template| {
                let parts: Vec<&str> = template.split('/').collect();
                parts.len() == segments.len()
                    && parts.iter().zip(&segments).all(|(part, segment)| {
                        part == segment || (part.starts_with('{') && !segment.is_empty())
                    })
            })
            .collect();
        matching.sort_by_key(|template| std::cmp::Reverse(literal(template)));
        let template = matching.first()?;
        let method = method.as_str().to_lowercase();
        paths[template.as_str()].get(&method)?;
        Some(format!("/paths/{}/{method}", escape(template)))
    }

    /// Validates `instance` by the schema at `pointer`; the errors, each at its path.
    fn violations(&self, pointer: &str, instance: &Value) -> Vec<String> {
        let validator = self.validator(pointer);
        validator
            .iter_errors(instance)
            .map(|e| format!("{} at '{}'", e, e.instance_path()))
            .collect()
    }

    fn validator(&self, pointer: &str) -> Arc<Validator> {
        let mut cache = self.validators.lock().expect("validators");
        if let Some(validator) = cache.get(pointer) {
            return Arc::clone(validator);
        }
        let schema = self
            .document
            .pointer(pointer)
            .unwrap_or_else(|| panic!("no schema at {pointer}"));
        // The schema, with the document's components beside it for its `$ref`s to resolve.
        let mut root = match schema {
            Value::Object(fields) => fields.clone(),
            other => panic!("the schema at {pointer} is not an object: {other}"),
        };
        root.insert("components".into(), self.document["components"].clone());
        let validator = Arc::new(
            jsonschema::options()
                .build(&Value::Object(root))
                .unwrap_or_else(|e| panic!("the schema at {pointer} does not compile: {e}")),
        );
        cache.insert(pointer.to_string(), Arc::clone(&validator));
        validator
    }

    /// Checks one exchange; panics with what differs from the document.
    fn check(&self, exchange: &Exchange, answer: &Answer) {
        let Some(operation) = self.operation(&exchange.method, &exchange.path) else {
            return;
        };
        let what = format!("{} {} → {}", exchange.method, exchange.path, answer.status);
        let responses = format!("{operation}/responses");
        let documented = [answer.status.as_str(), "default"]
            .into_iter()
            .map(|status| format!("{responses}/{status}"))
            .find(|pointer| self.document.pointer(pointer).is_some())
            .unwrap_or_else(|| panic!("{what}: the status is not documented for the operation"));
        if let Some(media) = &answer.media_type {
            // Documented media types may carry parameters (`text/plain; version=0.0.4`).
            let content = self
                .document
                .pointer(&documented)
                .and_then(|r| r.get("content"))
                .and_then(Value::as_object)
                .and_then(|c| {
                    c.keys()
                        .find(|k| k.split(';').next().map(str::trim) == Some(media.as_str()))
                })
                .map(|key| format!("{documented}/content/{}", escape(key)))
                .unwrap_or_else(|| panic!("{what}: the content type {media} is not documented"));
            if let Some(body) = &answer.json {
                let errors = self.violations(&format!("{content}/schema"), body);
                assert!(
                    errors.is_empty(),
                    "{what}: the answer {body} is not as documented: {errors:?}"
                );
                self.check_problem_code(&what, &documented, body);
            }
        }
        if let Some(request) = &exchange.json
            && answer.status.is_success()
        {
            let schema = format!("{operation}/requestBody/content/application~1json/schema");
            assert!(
                self.document.pointer(&schema).is_some(),
                "{what}: a JSON body was accepted, but the operation documents none"
            );
            let errors = self.violations(&schema, request);
            assert!(
                errors.is_empty(),
                "{what}: the server accepted {request}, which the document refuses: {errors:?}"
            );
        }
    }

    /// A problem's `code` is one its status documents (its description names them as `code`).
    fn check_problem_code(&self, what: &str, documented: &str, body: &Value) {
        let Some(code) = body.get("code").and_then(Value::as_str) else {
            return;
        };
        let description = self
            .document
            .pointer(&format!("{documented}/description"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let codes: Vec<&str> = description.split('`').skip(1).step_by(2).collect();
        assert!(
            codes.is_empty() || codes.contains(&code),
            "{what}: the problem code {code} is not one the document lists ({codes:?})"
        );
    }
}

/// A JSON Pointer token of `text`.
fn escape(text: &str) -> String {
    text.replace('~', "~0").replace('/', "~1")
}

/// What was asked.
struct Exchange {
    method: Method,
    path: String,
    json: Option<Value>,
}

/// What came back.
struct Answer {
    status: StatusCode,
    media_type: Option<String>,
    json: Option<Value>,
}

/// A request to the server under test, checked against its contract when sent.
pub struct ApiRequest {
    inner: RequestBuilder,
    json: Option<Value>,
    contract: Option<Arc<Contract>>,
}

impl ApiRequest {
    pub fn new(inner: RequestBuilder, contract: Option<Arc<Contract>>) -> ApiRequest {
        ApiRequest {
            inner,
            json: None,
            contract,
        }
    }

    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> ApiRequest {
        self.json = serde_json::to_value(body).ok();
        self.inner = self.inner.json(body);
        self
    }

    pub fn body(mut self, body: impl Into<reqwest::Body>) -> ApiRequest {
        self.inner = self.inner.body(body);
        self
    }

    pub fn header<K, V>(mut self, name: K, value: V) -> ApiRequest
    where
        HeaderName: TryFrom<K>,
        <HeaderName as TryFrom<K>>::Error: Into<axum::http::Error>,
        HeaderValue: TryFrom<V>,
        <HeaderValue as TryFrom<V>>::Error: Into<axum::http::Error>,
    {
        self.inner = self.inner.header(name, value);
        self
    }

    pub fn bearer_auth(mut self, token: impl std::fmt::Display) -> ApiRequest {
        self.inner = self.inner.bearer_auth(token);
        self
    }

    pub fn basic_auth(mut self, user: &str, password: Option<&str>) -> ApiRequest {
        self.inner = self.inner.basic_auth(user, password);
        self
    }

    /// Sends it; a JSON answer is read whole (to check it) and handed back as it came.
    pub async fn send(self) -> reqwest::Result<Response> {
        let (client, request) = self.inner.build_split();
        let request = request?;
        let exchange = Exchange {
            method: request.method().clone(),
            path: request.url().path().to_string(),
            json: self.json,
        };
        let response = client.execute(request).await?;
        let Some(contract) = self.contract else {
            return Ok(response);
        };
        let status = response.status();
        let media_type = media_type(response.headers());
        if !media_type.as_deref().is_some_and(is_json) {
            contract.check(
                &exchange,
                &Answer {
                    status,
                    media_type,
                    json: None,
                },
            );
            return Ok(response);
        }
        let version = response.version();
        let headers = response.headers().clone();
        let bytes = response.bytes().await?;
        let json = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "{} {}: the {media_type:?} answer is not JSON: {e}",
                exchange.method, exchange.path
            )
        });
        contract.check(
            &exchange,
            &Answer {
                status,
                media_type,
                json: Some(json),
            },
        );
        Ok(rebuilt(status, version, headers, bytes))
    }
}

/// `application/json` and its `+json` kinds (`application/problem+json`), not NDJSON.
fn is_json(media_type: &str) -> bool {
    media_type == "application/json" || media_type.ends_with("+json")
}

/// The media type of a response (its `Content-Type` without parameters).
fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    let media = value.split(';').next()?.trim();
    (!media.is_empty()).then(|| media.to_string())
}

/// A response read whole, as a `Response` again.
fn rebuilt(
    status: StatusCode,
    version: reqwest::Version,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let mut response = axum::http::Response::new(bytes);
    *response.status_mut() = status;
    *response.version_mut() = version;
    *response.headers_mut() = headers;
    Response::from(response)
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, json};

    use super::*;

    /// A document with one schema, for the checker's own tests.
    fn one_operation(schema: Value) -> Contract {
        let mut document = Map::new();
        document.insert(
            "paths".into(),
            json!({"/v1/things/{id}": {"get": {"responses": {"200": {"description": "OK",
                "content": {"application/json": {"schema": schema}}}}}}}),
        );
        document.insert(
            "components".into(),
            json!({"schemas": {"Thing": {"type": "object", "required": ["id"],
                "properties": {"id": {"type": "string"}}, "additionalProperties": false}}}),
        );
        Contract {
            document: Value::Object(document),
            validators: Mutex::new(HashMap::new()),
        }
    }

    /// `GET /v1/things/t1` answered `status` with `json` (as `application/json`).
    fn answered(contract: &Contract, status: StatusCode, json: Option<Value>) {
        let exchange = Exchange {
            method: Method::GET,
            path: "/v1/things/t1".into(),
            json: None,
        };
        let answer = Answer {
            status,
            media_type: json.as_ref().map(|_| "application/json".into()),
            json,
        };
        contract.check(&exchange, &answer);
    }

    #[test]
    fn a_documented_answer_passes() {
        let contract = one_operation(json!({"$ref": "#/components/schemas/Thing"}));
        answered(&contract, StatusCode::OK, Some(json!({"id": "t1"})));
    }

    #[test]
    #[should_panic(expected = "is not as documented")]
    fn an_answer_with_an_undocumented_field_fails() {
        let contract = one_operation(json!({"$ref": "#/components/schemas/Thing"}));
        answered(
            &contract,
            StatusCode::OK,
            Some(json!({"id": "t1", "secret": 1})),
        );
    }

    #[test]
    #[should_panic(expected = "the status is not documented")]
    fn an_undocumented_status_fails() {
        let contract = one_operation(json!({"type": "object"}));
        answered(&contract, StatusCode::IM_A_TEAPOT, None);
    }

    #[test]
    fn a_route_the_document_does_not_have_is_not_checked() {
        let contract = one_operation(json!({"type": "object"}));
        assert_eq!(contract.operation(&Method::GET, "/v1/other/t1"), None);
        assert_eq!(contract.operation(&Method::POST, "/v1/things/t1"), None);
    }
}
