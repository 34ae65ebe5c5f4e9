//! The HTTP conventions of tenant routes' answers: `ETag`, `X-Event-Position`, and lists
//! (`limit`, `cursor` scoped to the tenant incarnation and the filters). The request headers
//! are in `headers`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use commerce::read::{Page, PageRequest};
use commerce::write::Committed;
use serde::Serialize;

use crate::extract::{Cursor, PageParams, PageQuery};
use crate::http::ApiError;
use crate::resolution::Tenanted;
use crate::views::ListPage;

pub const X_EVENT_POSITION: &str = "x-event-position";

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

/// The page asked for; cursors are only valid for the same list, filters and tenant incarnation.
pub fn page_request(
    request: &Tenanted,
    list: &str,
    filters: &str,
    query: &PageQuery,
) -> Result<(PageRequest, String), ApiError> {
    let tenant = request.ctx.tenant();
    let scope = format!("{list}:{}@{}:{filters}", tenant.id, tenant.incarnation);
    let page = PageParams::parse(query, &scope)?;
    Ok((
        PageRequest {
            limit: page.limit,
            after: page.after,
        },
        scope,
    ))
}

/// `{"items": [...], "next_cursor": ...}`
pub fn page_response<T: Serialize>(page: Page<T>, scope: &str) -> Json<ListPage<T>> {
    let next_cursor = page.next_after.map(|after| Cursor::encode(scope, &after));
    Json(ListPage {
        items: page.items,
        next_cursor,
    })
}
