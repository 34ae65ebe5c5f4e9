//! `/v1/products`: thin handlers — parse, dispatch to the command or query bus, map the result.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use commerce::read::{GetProduct, ListProducts};
use commerce::write::{CreateProduct, DeleteProduct, UpdateProduct};
use tenantry_auth::Role;

use super::conventions::{
    committed, committed_empty, idempotency_key, if_match, int_param, min_position, page_request,
    page_response, resource,
};
use crate::extract::{Fields, JsonObject, QueryMap};
use crate::http::ApiError;
use crate::resolution::Tenanted;
use crate::state::AppState;

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

pub async fn update_product(
    State(state): State<AppState>,
    request: Tenanted,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: JsonObject,
) -> Result<Response, ApiError> {
    request.principal.require(Role::Member)?;
    let expected_version = if_match(&headers)?;
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

pub async fn delete_product(
    State(state): State<AppState>,
    request: Tenanted,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    request.principal.require(Role::Admin)?;
    let command = DeleteProduct {
        id,
        expected_version: if_match(&headers)?,
    };
    let deleted = state.commands.dispatch(request.envelope(command)).await?;
    Ok(committed_empty(deleted))
}

pub async fn list_products(
    State(state): State<AppState>,
    request: Tenanted,
    headers: HeaderMap,
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
        min_position: min_position(&headers)?,
    };
    let found = state.queries.dispatch(request.envelope(list)).await?;
    Ok(page_response(found, &scope))
}

pub async fn get_product(
    State(state): State<AppState>,
    request: Tenanted,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    request.principal.require(Role::Viewer)?;
    let query = GetProduct {
        id,
        min_position: min_position(&headers)?,
    };
    Ok(resource(
        state.queries.dispatch(request.envelope(query)).await?,
    ))
}
