//! `/v1/orders`: the request shapes and thin handlers — parse, dispatch, map.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use commerce::CommerceError;
use commerce::model::{Customer, OrderStatus, OrderView};
use commerce::read::{GetOrder, ListOrders};
use commerce::write::{
    CancelOrder, CommerceWrites, Committed, FulfilOrder, NewOrderLine, PlaceOrder,
};
use cqrs::{Command, Handler};
use tenantry_auth::Role;

use super::conventions::{committed, page_request, page_response, resource};
use super::headers::{Idempotency, IfMatch, MinPosition};
use crate::extract::{Body, PageQuery, QueryValue};
use crate::http::ApiError;
use crate::openapi::{BodyErrors, Problem, TenantErrors};
use crate::resolution::Tenanted;
use crate::state::AppState;
use crate::views::ListPage;

crate::request_body! {
    /// The customer of a new order.
    pub struct CustomerForOrder {
        #[schema(min_length = 1, max_length = 128)]
        pub id: String,
        #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
        pub name: String,
    }
}

crate::request_body! {
    /// A line of a new order.
    pub struct OrderLineForCreate {
        #[schema(min_length = 1)]
        pub product_id: String,
        #[schema(minimum = 1, maximum = 10_000)]
        pub qty: i64,
    }
}

crate::request_body! {
    /// `POST /v1/orders` body.
    pub struct OrderForCreate {
        pub customer: CustomerForOrder,
        /// Each product once.
        #[schema(min_items = 1, max_items = 100)]
        pub lines: Vec<OrderLineForCreate>,
    }
}

impl QueryValue for OrderStatus {
    fn parse_query(raw: &str) -> Result<Self, String> {
        OrderStatus::parse(raw).ok_or_else(|| "must be placed, cancelled or fulfilled".into())
    }
}

crate::query_params! {
    /// The filters of `GET /v1/orders`.
    pub struct OrderFilters {
        #[param(nullable = false)]
        pub status: Option<OrderStatus>,
        #[param(nullable = false)]
        pub customer_id: Option<String>,
    }
}

/// Place an order (member): prices snapshotted, stock taken atomically.
#[utoipa::path(post, path = "/v1/orders", security(("jwt" = [])), tag = "orders",
    params(Tenanted, Idempotency),
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
    idempotency: Idempotency,
    body: Body<OrderForCreate>,
) -> Result<Response, ApiError> {
    request.principal.require(Role::Member)?;
    let idempotency = idempotency.bind("POST /v1/orders", &body);
    let OrderForCreate { customer, lines } = body.value;
    let customer = Customer {
        id: customer.id,
        name: customer.name,
    };
    let lines = lines
        .into_iter()
        .map(|line| NewOrderLine {
            product_id: line.product_id,
            qty: line.qty,
        })
        .collect();
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
    params(Tenanted, ("id" = String, Path), IfMatch),
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
    if_match: IfMatch,
) -> Result<Response, ApiError> {
    transition(&state, &request, if_match.version, |expected_version| {
        CancelOrder {
            id,
            expected_version,
        }
    })
    .await
}

/// placed → fulfilled (member).
#[utoipa::path(post, path = "/v1/orders/{id}/fulfil", security(("jwt" = [])), tag = "orders",
    params(Tenanted, ("id" = String, Path), IfMatch),
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
    if_match: IfMatch,
) -> Result<Response, ApiError> {
    transition(&state, &request, if_match.version, |expected_version| {
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
    params(Tenanted, OrderFilters, PageQuery, MinPosition),
    responses((status = 200, description = "OK", body = ListPage<OrderView>), TenantErrors))]
pub async fn list_orders(
    State(state): State<AppState>,
    request: Tenanted,
    min_position: MinPosition,
    filters: OrderFilters,
    page: PageQuery,
) -> Result<Json<ListPage<OrderView>>, ApiError> {
    request.principal.require(Role::Viewer)?;
    let OrderFilters {
        status,
        customer_id,
    } = filters;
    let scope_filters = format!("{status:?}:{customer_id:?}");
    let (page, scope) = page_request(&request, "orders", &scope_filters, &page)?;
    let list = ListOrders {
        status,
        customer_id,
        page,
        min_position: min_position.position,
    };
    Ok(page_response(
        state.queries.dispatch(request.envelope(list)).await?,
        &scope,
    ))
}

/// One order (viewer).
#[utoipa::path(get, path = "/v1/orders/{id}", security(("jwt" = [])), tag = "orders",
    params(Tenanted, ("id" = String, Path), MinPosition),
    responses((status = 200, description = "OK", body = OrderView, headers(("ETag" = String))), TenantErrors))]
pub async fn get_order(
    State(state): State<AppState>,
    request: Tenanted,
    Path(id): Path<String>,
    min_position: MinPosition,
) -> Result<Response, ApiError> {
    request.principal.require(Role::Viewer)?;
    let query = GetOrder {
        id,
        min_position: min_position.position,
    };
    Ok(resource(
        state.queries.dispatch(request.envelope(query)).await?,
    ))
}
