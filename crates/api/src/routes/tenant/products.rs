//! `/v1/products`: thin handlers — parse, dispatch to the command or query bus, map the result.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use commerce::read::{GetProduct, ListProducts};
use commerce::write::{CreateProduct, DeleteProduct, UpdateProduct};
use tenantry_auth::Role;

use super::conventions::{
    IfMatch, MinPosition, committed, committed_empty, idempotency_key, int_param, page_request,
    page_response, resource,
};
use super::schemas::{ProductForCreate, ProductForUpdate, ProductList};
use crate::extract::{Fields, JsonObject, QueryMap};
use crate::http::ApiError;
use crate::openapi::{
    BodyErrors, Idempotency, PageQuery, Precondition, Problem, ReadAfter, TenantErrors,
    TenantSelectors,
};
use crate::resolution::Tenanted;
use crate::state::AppState;
use commerce::model::ProductView;

/// Create a product (member). Duplicate sku in this tenant: 409 `sku_taken`.
#[utoipa::path(post, path = "/v1/products", security(("jwt" = [])), tag = "products",
    params(TenantSelectors, Idempotency),
    request_body = ProductForCreate,
    responses(
        (status = 201, description = "Created", body = ProductView, headers(("ETag" = String), ("X-Event-Position" = i64))),
        (status = 409, description = "`sku_taken`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`idempotency_key_reused`", body = Problem, content_type = "application/problem+json"),
        TenantErrors, BodyErrors,
    ))]
pub async fn create_product(
    State(state): State<AppState>,
    request: Tenanted,
    headers: HeaderMap,
    body: JsonObject,
) -> Result<Response, ApiError> {
    request.principal.require(Role::Member)?;
    let idempotency = idempotency_key(&headers, "POST /v1/products", &body)?;
    let mut f = Fields::new(body);
    let (sku, name, price_cents, stock) = (
        f.required("sku"),
        f.required("name"),
        f.required("price_cents"),
        f.optional("stock"),
    );
    f.finish()?;
    let (Some(sku), Some(name), Some(price_cents)) = (sku, name, price_cents) else {
        return Err(ApiError::field("$", "incomplete body"));
    };
    let command = CreateProduct {
        sku,
        name,
        price_cents,
        stock: stock.unwrap_or(0),
        idempotency,
    };
    let created = state.commands.dispatch(request.envelope(command)).await?;
    Ok(committed(StatusCode::CREATED, created))
}

/// Change name, price or stock (member); `If-Match` honoured.
#[utoipa::path(patch, path = "/v1/products/{id}", security(("jwt" = [])), tag = "products",
    params(("id" = String, Path), TenantSelectors, Precondition),
    request_body = ProductForUpdate,
    responses(
        (status = 200, description = "OK", body = ProductView, headers(("ETag" = String), ("X-Event-Position" = i64))),
        (status = 412, description = "`version_mismatch`", body = Problem, content_type = "application/problem+json"),
        TenantErrors, BodyErrors,
    ))]
pub async fn update_product(
    State(state): State<AppState>,
    request: Tenanted,
    Path(id): Path<String>,
    IfMatch(expected_version): IfMatch,
    body: JsonObject,
) -> Result<Response, ApiError> {
    request.principal.require(Role::Member)?;
    let mut f = Fields::new(body);
    let command = UpdateProduct {
        id,
        name: f.optional("name"),
        price_cents: f.optional("price_cents"),
        stock: f.optional("stock"),
        expected_version,
    };
    f.finish()?;
    let updated = state.commands.dispatch(request.envelope(command)).await?;
    Ok(committed(StatusCode::OK, updated))
}

/// Delete a product (admin); `If-Match` honoured.
#[utoipa::path(delete, path = "/v1/products/{id}", security(("jwt" = [])), tag = "products",
    params(("id" = String, Path), TenantSelectors, Precondition),
    responses(
        (status = 204, description = "Deleted", headers(("X-Event-Position" = i64))),
        (status = 412, description = "`version_mismatch`", body = Problem, content_type = "application/problem+json"),
        TenantErrors,
    ))]
pub async fn delete_product(
    State(state): State<AppState>,
    request: Tenanted,
    Path(id): Path<String>,
    IfMatch(expected_version): IfMatch,
) -> Result<Response, ApiError> {
    request.principal.require(Role::Admin)?;
    let command = DeleteProduct {
        id,
        expected_version,
    };
    let deleted = state.commands.dispatch(request.envelope(command)).await?;
    Ok(committed_empty(deleted))
}

/// Search products (viewer), from the product-list read model.
#[utoipa::path(get, path = "/v1/products", security(("jwt" = [])), tag = "products",
    params(
        ("q" = Option<String>, Query, description = "Case-insensitive literal prefix of name or sku"),
        ("min_price" = Option<i64>, Query, description = "Inclusive, cents"),
        ("max_price" = Option<i64>, Query, description = "Inclusive, cents"),
        PageQuery, TenantSelectors, ReadAfter,
    ),
    responses((status = 200, description = "OK", body = ProductList), TenantErrors))]
pub async fn list_products(
    State(state): State<AppState>,
    request: Tenanted,
    MinPosition(min_position): MinPosition,
    query: QueryMap,
) -> Result<Response, ApiError> {
    request.principal.require(Role::Viewer)?;
    let q = query.get("q").map(String::from);
    let min_price = int_param("min_price", query.get("min_price"))?;
    let max_price = int_param("max_price", query.get("max_price"))?;
    let filters = format!("{q:?}:{min_price:?}:{max_price:?}");
    let (page, scope) = page_request(
        &request,
        "products",
        &filters,
        query.get("limit"),
        query.get("cursor"),
    )?;
    let list = ListProducts {
        q,
        min_price,
        max_price,
        page,
        min_position,
    };
    let found = state.queries.dispatch(request.envelope(list)).await?;
    Ok(page_response(found, &scope))
}

/// One product (viewer), from the product-list read model.
#[utoipa::path(get, path = "/v1/products/{id}", security(("jwt" = [])), tag = "products",
    params(("id" = String, Path), TenantSelectors, ReadAfter),
    responses((status = 200, description = "OK", body = ProductView, headers(("ETag" = String))), TenantErrors))]
pub async fn get_product(
    State(state): State<AppState>,
    request: Tenanted,
    Path(id): Path<String>,
    MinPosition(min_position): MinPosition,
) -> Result<Response, ApiError> {
    request.principal.require(Role::Viewer)?;
    let query = GetProduct { id, min_position };
    Ok(resource(
        state.queries.dispatch(request.envelope(query)).await?,
    ))
}
