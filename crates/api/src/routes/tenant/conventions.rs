//! The HTTP conventions of tenant routes: `If-Match` and `X-Min-Position` (typed extractors),
//! `Idempotency-Key`,
//! `ETag`, `X-Event-Position`, and lists (`limit`, `cursor` scoped to the tenant incarnation and
//! the filters).

use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use commerce::read::{Page, PageRequest};
use commerce::write::{Committed, IdempotencyKey};
use serde::Serialize;
use serde_json::json;

use crate::extract::{Cursor, JsonObject, PageParams};
use crate::http::ApiError;
use crate::resolution::Tenanted;

pub const X_EVENT_POSITION: &str = "x-event-position";
pub const X_MIN_POSITION: &str = "x-min-position";
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Resources with a version, shown as a strong `ETag: "<version>"`.
pub trait Versioned {
    fn version(&self) -> i64;
}

impl Versioned for commerce::model::ProductView {
    fn version(&self) -> i64 {
        self.version
    }
}

impl Versioned for commerce::model::OrderView {
    fn version(&self) -> i64 {
        self.version
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(|s| Some(s.trim()))
            .map_err(|_| ApiError::field(name, "is not visible ASCII")),
    }
}

/// `If-Match: "3"` (or `W/"3"`, or `*` for any version): the version the client expects.
pub struct IfMatch(pub Option<i64>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<IfMatch, ApiError> {
        let Some(raw) = header_str(&parts.headers, "if-match")? else {
            return Ok(IfMatch(None));
        };
        if raw == "*" {
            return Ok(IfMatch(None));
        }
        raw.trim_start_matches("W/")
            .trim_matches('"')
            .parse::<i64>()
            .map(|version| IfMatch(Some(version)))
            .map_err(|_| ApiError::field("If-Match", "must be an ETag of this API, e.g. \"3\""))
    }
}

/// `X-Min-Position: <n>`: answer once the projections have reached `n`.
pub struct MinPosition(pub Option<i64>);

impl<S: Send + Sync> FromRequestParts<S> for MinPosition {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<MinPosition, ApiError> {
        let Some(raw) = header_str(&parts.headers, X_MIN_POSITION)? else {
            return Ok(MinPosition(None));
        };
        match raw.parse::<i64>() {
            Ok(n) if n >= 0 => Ok(MinPosition(Some(n))),
            _ => Err(ApiError::field(
                "X-Min-Position",
                "must be a non-negative integer",
            )),
        }
    }
}

/// `Idempotency-Key`, bound to the route and the request body.
pub fn idempotency_key(
    headers: &HeaderMap,
    scope: &str,
    body: &JsonObject,
) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(key) = header_str(headers, IDEMPOTENCY_KEY)? else {
        return Ok(None);
    };
    if !IdempotencyKey::is_well_formed(key) {
        return Err(ApiError::field(
            "Idempotency-Key",
            "must be 1 to 255 visible ASCII characters",
        ));
    }
    Ok(Some(IdempotencyKey::new(
        scope,
        key,
        &serde_json::Value::Object(body.0.clone()),
    )))
}

/// A command's answer: the resource, its `ETag`, and `X-Event-Position`.
pub fn committed<T: Serialize + Versioned>(
    status: StatusCode,
    committed: Committed<T>,
) -> Response {
    let etag = format!("\"{}\"", committed.value.version());
    let mut response = (status, Json(&committed.value)).into_response();
    set(
        &mut response,
        X_EVENT_POSITION,
        &committed.position.to_string(),
    );
    set(&mut response, header::ETAG.as_str(), &etag);
    response
}

/// A command without a body (DELETE): 204 with `X-Event-Position`.
pub fn committed_empty(committed: Committed<()>) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    set(
        &mut response,
        X_EVENT_POSITION,
        &committed.position.to_string(),
    );
    response
}

/// A single resource read: 200 with its `ETag`.
pub fn resource<T: Serialize + Versioned>(value: T) -> Response {
    let etag = format!("\"{}\"", value.version());
    let mut response = Json(&value).into_response();
    set(&mut response, header::ETAG.as_str(), &etag);
    response
}

fn set(response: &mut Response, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}

/// Parses `limit`/`cursor`; cursors are only valid for the same list, filters and tenant.
pub fn page_request(
    request: &Tenanted,
    list: &str,
    filters: &str,
    limit: Option<&str>,
    cursor: Option<&str>,
) -> Result<(PageRequest, String), ApiError> {
    let tenant = request.ctx.tenant();
    let scope = format!("{list}:{}@{}:{filters}", tenant.id, tenant.incarnation);
    let page = PageParams::parse(limit, cursor, &scope)?;
    Ok((
        PageRequest {
            limit: page.limit,
            after: page.after,
        },
        scope,
    ))
}

/// `{"items": [...], "next_cursor": ...}`
pub fn page_response<T: Serialize>(page: Page<T>, scope: &str) -> Response {
    let next = page.next_after.map(|after| Cursor::encode(scope, &after));
    Json(json!({"items": page.items, "next_cursor": next})).into_response()
}

/// Parses an optional integer query parameter.
pub fn int_param(name: &str, raw: Option<&str>) -> Result<Option<i64>, ApiError> {
    raw.map(|v| {
        v.parse::<i64>()
            .map_err(|_| ApiError::field(name, "must be an integer"))
    })
    .transpose()
}
