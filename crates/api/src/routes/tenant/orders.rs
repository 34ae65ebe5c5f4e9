//! `/v1/orders`: thin handlers — parse, dispatch, map.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use commerce::CommerceError;
use commerce::model::{Customer, OrderStatus};
use commerce::read::{GetOrder, ListOrders};
use commerce::write::{
    CancelOrder, CommerceWrites, Committed, FulfilOrder, NewOrderLine, PlaceOrder,
};
use cqrs::{Command, Handler};
use serde_json::{Map, Value};
use tenantry_auth::Role;

use super::conventions::{
    IfMatch, MinPosition, committed, idempotency_key, page_request, page_response, resource,
};
use super::schemas::{OrderForCreate, OrderList};
use crate::extract::{Fields, JsonObject, QueryMap};
use crate::http::ApiError;
use crate::openapi::{
    BodyErrors, Idempotency, PageQuery, Precondition, Problem, ReadAfter, TenantErrors,
    TenantSelectors,
};
use crate::resolution::Tenanted;
use crate::state::AppState;
use commerce::model::OrderView;

/// Place an order (member): prices snapshotted, stock taken atomically.
#[utoipa::path(post, path = "/v1/orders", security(("jwt" = [])), tag = "orders",
    params(TenantSelectors, Idempotency),
    request_body = OrderForCreate,
    responses(
        (status = 201, description = "Created", body = OrderView, headers(("ETag" = String), ("X-Event-Position" = i64))),
        (status = 409, description = "`insufficient_stock`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`unknown_product`, `idempotency_key_reused`", body = Problem, content_type = "application/problem+json"),
        TenantErrors, BodyErrors,
    ))]
pub async fn place_order(
    State(state): State<AppState>,
    request: Tenanted,
    headers: HeaderMap,
    body: JsonObject,
) -> Result<Response, ApiError> {
    request.principal.require(Role::Member)?;
    let idempotency = idempotency_key(&headers, "POST /v1/orders", &body)?;
    let mut f = Fields::new(body);
    let customer: Option<Map<String, Value>> = f.required("customer");
    let lines: Option<Vec<Value>> = f.required("lines");
    let customer = customer.map(|map| {
        let mut c = Fields::nested(map, "customer");
        let (id, name) = (c.required::<String>("id"), c.required::<String>("name"));
        f.absorb(c);
        Customer {
            id: id.unwrap_or_default(),
            name: name.unwrap_or_default(),
        }
    });
    let lines: Vec<NewOrderLine> = lines
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .filter_map(|(i, line)| {
            let Value::Object(map) = line else {
                f.reject(&format!("lines[{i}]"), "must be an object");
                return None;
            };
            let mut l = Fields::nested(map, &format!("lines[{i}]"));
            let (product_id, qty) = (l.required::<String>("product_id"), l.required::<i64>("qty"));
            f.absorb(l);
            Some(NewOrderLine {
                product_id: product_id?,
                qty: qty?,
            })
        })
        .collect();
    f.finish()?;
    let Some(customer) = customer else {
        return Err(ApiError::field("customer", "is required"));
    };
    let placed = state
        .commands
        .dispatch(request.envelope(PlaceOrder {
            customer,
            lines,
            idempotency,
        }))
        .await?;
    Ok(committed(StatusCode::CREATED, placed))
}

/// placed → cancelled (member); stock restored.
#[utoipa::path(post, path = "/v1/orders/{id}/cancel", security(("jwt" = [])), tag = "orders",
    params(("id" = String, Path), TenantSelectors, Precondition),
    responses(
        (status = 200, description = "OK", body = OrderView, headers(("ETag" = String), ("X-Event-Position" = i64))),
        (status = 409, description = "`invalid_transition`", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "`version_mismatch`", body = Problem, content_type = "application/problem+json"),
        TenantErrors,
    ))]
pub async fn cancel_order(
    State(state): State<AppState>,
    request: Tenanted,
    Path(id): Path<String>,
    IfMatch(expected_version): IfMatch,
) -> Result<Response, ApiError> {
    transition(&state, &request, expected_version, |expected_version| {
        CancelOrder {
            id,
            expected_version,
        }
    })
    .await
}

/// placed → fulfilled (member).
#[utoipa::path(post, path = "/v1/orders/{id}/fulfil", security(("jwt" = [])), tag = "orders",
    params(("id" = String, Path), TenantSelectors, Precondition),
    responses(
        (status = 200, description = "OK", body = OrderView, headers(("ETag" = String), ("X-Event-Position" = i64))),
        (status = 409, description = "`invalid_transition`", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "`version_mismatch`", body = Problem, content_type = "application/problem+json"),
        TenantErrors,
    ))]
pub async fn fulfil_order(
    State(state): State<AppState>,
    request: Tenanted,
    Path(id): Path<String>,
    IfMatch(expected_version): IfMatch,
) -> Result<Response, ApiError> {
    transition(&state, &request, expected_version, |expected_version| {
        FulfilOrder {
            id,
            expected_version,
        }
    })
    .await
}

/// An order state transition (member): the command checks `If-Match` and the transition, and
/// the order is answered with its new version.
async fn transition<C>(
    state: &AppState,
    request: &Tenanted,
    expected_version: Option<i64>,
    command: impl FnOnce(Option<i64>) -> C,
) -> Result<Response, ApiError>
where
    C: Command<Output = Committed<OrderView>>,
    CommerceWrites: Handler<C, Error = CommerceError>,
{
    request.principal.require(Role::Member)?;
    let command = command(expected_version);
    let order = state.commands.dispatch(request.envelope(command)).await?;
    Ok(committed(StatusCode::OK, order))
}

/// List orders (viewer), from the order-list read model.
#[utoipa::path(get, path = "/v1/orders", security(("jwt" = [])), tag = "orders",
    params(
        ("status" = Option<String>, Query, description = "placed, cancelled or fulfilled"),
        ("customer_id" = Option<String>, Query),
        PageQuery, TenantSelectors, ReadAfter,
    ),
    responses((status = 200, description = "OK", body = OrderList), TenantErrors))]
pub async fn list_orders(
    State(state): State<AppState>,
    request: Tenanted,
    MinPosition(min_position): MinPosition,
    query: QueryMap,
) -> Result<Response, ApiError> {
    request.principal.require(Role::Viewer)?;
    let status = query
        .get("status")
        .map(|s| {
            OrderStatus::parse(s)
                .ok_or_else(|| ApiError::field("status", "must be placed, cancelled or fulfilled"))
        })
        .transpose()?;
    let customer_id = query.get("customer_id").map(String::from);
    let filters = format!("{status:?}:{customer_id:?}");
    let (page, scope) = page_request(
        &request,
        "orders",
        &filters,
        query.get("limit"),
        query.get("cursor"),
    )?;
    let list = ListOrders {
        status,
        customer_id,
        page,
        min_position,
    };
    Ok(page_response(
        state.queries.dispatch(request.envelope(list)).await?,
        &scope,
    ))
}

/// One order (viewer).
#[utoipa::path(get, path = "/v1/orders/{id}", security(("jwt" = [])), tag = "orders",
    params(("id" = String, Path), TenantSelectors, ReadAfter),
    responses((status = 200, description = "OK", body = OrderView, headers(("ETag" = String))), TenantErrors))]
pub async fn get_order(
    State(state): State<AppState>,
    request: Tenanted,
    Path(id): Path<String>,
    MinPosition(min_position): MinPosition,
) -> Result<Response, ApiError> {
    request.principal.require(Role::Viewer)?;
    let query = GetOrder { id, min_position };
    Ok(resource(
        state.queries.dispatch(request.envelope(query)).await?,
    ))
}
